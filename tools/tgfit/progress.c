/* SPDX-License-Identifier: MIT */
/*
** tgfit's progress report and Ctrl-C.  On a terminal, stderr carries one bar
** redrawn at most ten times a second (step, loss, points per second, ETA);
** otherwise plain lines, about ten per run (every steps / 10 steps, at least
** every 10 seconds, and the last), so logs stay short.  SIGINT or SIGTERM
** sets a flag that the training loop reads after each step; a second one
** kills as usual.
*/
#include "tgfit.h"

#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;         /* the signal number, 0 for none */

/* The first SIGINT or SIGTERM asks to stop; the handler then gives both back
** to the default action, so a second one of either kills at once. */
static void on_signal(int sig)
{
    interrupted = sig;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

void progress_install_sigint(void)
{
    struct sigaction sa = { 0 };
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

volatile const sig_atomic_t *progress_stop_flag(void) { return &interrupted; }

bool progress_interrupted(void)
{
    return interrupted != 0;
}

const char *progress_signal_name(void)
{
    return interrupted == SIGTERM ? "SIGTERM" : interrupted == SIGINT ? "SIGINT" : "a signal to another rank";
}

double tgfit_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_begin(progress *pg, bool on, int64_t total)
{
    pg->on = on && total > 0;
    pg->tty = isatty(fileno(stderr)) == 1;
    pg->total = total;
    pg->every = total >= 10 ? total / 10 : 1;
    pg->start = pg->last = tgfit_now();
}

static void eta_text(char *buf, size_t size, double seconds)
{
    if (!(seconds >= 0) || seconds > 1e7)
        snprintf(buf, size, "?");
    else if (seconds >= 3600)
        snprintf(buf, size, "%dh%02dm", (int)(seconds / 3600), (int)(seconds / 60) % 60);
    else if (seconds >= 60)
        snprintf(buf, size, "%dm%02ds", (int)(seconds / 60), (int)seconds % 60);
    else
        snprintf(buf, size, "%.1fs", seconds);
}

static void draw(progress *pg, int64_t step, double loss, double points_done, bool final)
{
    double now = tgfit_now(), elapsed = now - pg->start;
    double rate = elapsed > 0 ? points_done / elapsed : 0.0;
    char eta[32];
    eta_text(eta, sizeof eta, step > 0 ? elapsed / (double)step * (double)(pg->total - step) : -1.0);
    if (pg->tty) {
        enum { WIDTH = 24 };
        char bar[WIDTH + 1];
        int filled = (int)((double)WIDTH * (double)step / (double)pg->total);
        for (int i = 0; i < WIDTH; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[WIDTH] = '\0';
        fprintf(stderr, "\r[%s] step %lld/%lld  loss %.6e  %.3g points/s  ETA %s\033[K%s", bar, (long long)step,
                (long long)pg->total, loss, rate, eta, final ? "\n" : "");
    } else {
        fprintf(stderr, "step %lld/%lld loss %.6e points/s %.3g eta %s\n", (long long)step, (long long)pg->total,
                loss, rate, eta);
    }
    fflush(stderr);
    pg->last = now;
}

void progress_step(progress *pg, int64_t step, double loss, double points_done)
{
    if (!pg->on || step == pg->total)
        return;                                  /* the last step is drawn by progress_end */
    double since = tgfit_now() - pg->last;
    if (pg->tty ? since >= 0.1 : step % pg->every == 0 || since >= 10.0)
        draw(pg, step, loss, points_done, false);
}

void progress_end(progress *pg, int64_t step, double loss, double points_done)
{
    if (pg->on)
        draw(pg, step, loss, points_done, true);
}
