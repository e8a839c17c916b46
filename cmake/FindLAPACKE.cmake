# SPDX-License-Identifier: MIT
# FindLAPACKE: the C interface to LAPACK (Debian's liblapacke-dev), which CMake
# has no module for.  Used by tensorgrad's own build and installed with its
# CMake package, whose tensorgradConfig.cmake calls find_dependency(LAPACKE).
#
#   LAPACKE_FOUND          whether lapacke.h and liblapacke were found
#   LAPACKE_INCLUDE_DIR    the directory holding lapacke.h (cache)
#   LAPACKE_LIBRARY        liblapacke (cache)
#   LAPACKE::LAPACKE       imported target: the library and its include directory
#
# liblapacke calls LAPACK, which tensorgrad takes from OpenBLAS (BLAS::BLAS).
find_path(LAPACKE_INCLUDE_DIR lapacke.h PATH_SUFFIXES lapacke)
find_library(LAPACKE_LIBRARY lapacke)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(LAPACKE REQUIRED_VARS LAPACKE_LIBRARY LAPACKE_INCLUDE_DIR)
mark_as_advanced(LAPACKE_INCLUDE_DIR LAPACKE_LIBRARY)
if(LAPACKE_FOUND AND NOT TARGET LAPACKE::LAPACKE)
  add_library(LAPACKE::LAPACKE UNKNOWN IMPORTED)
  set_target_properties(LAPACKE::LAPACKE PROPERTIES
    IMPORTED_LOCATION "${LAPACKE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${LAPACKE_INCLUDE_DIR}")
endif()
