/* SPDX-License-Identifier: MIT */
/*
** The version: tg_version() (the library's) equals TG_VERSION_STRING (the
** generated header's), which is TG_VERSION_MAJOR.MINOR.PATCH and equals
** project(tensorgrad VERSION ...) of CMakeLists.txt (TG_TEST_PROJECT_VERSION,
** passed in by tests/CMakeLists.txt).
*/
#include "support.h"

#include <stdio.h>
#include <string.h>

static void test_tg_version_is_the_header_version(void **state)
{
    (void)state;
    assert_non_null(tg_version());
    assert_string_equal(tg_version(), TG_VERSION_STRING);
    assert_ptr_equal(tg_version(), tg_version());   /* one constant string */
}

static void test_version_string_is_major_minor_patch(void **state)
{
    (void)state;
    char s[64];
    snprintf(s, sizeof s, "%d.%d.%d", TG_VERSION_MAJOR, TG_VERSION_MINOR, TG_VERSION_PATCH);
    assert_string_equal(s, TG_VERSION_STRING);
}

static void test_version_is_the_cmake_project_version(void **state)
{
    (void)state;
    assert_string_equal(TG_VERSION_STRING, TG_TEST_PROJECT_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tg_version_is_the_header_version),
        cmocka_unit_test(test_version_string_is_major_minor_patch),
        cmocka_unit_test(test_version_is_the_cmake_project_version),
    };
    return cmocka_run_group_tests_name("version", tests, NULL, NULL);
}
