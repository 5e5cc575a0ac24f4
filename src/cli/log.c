/*
 * log.c - the diagnostic log of one floe run (see log.h).
 */
#include "log.h"

#include "floe/client.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *s_file; /* --log-file, or NULL for stderr; set before threads start */
static int s_level = FLOE_LOG_WARN;

int floe_cli_log_open(const struct floe_cli *cli)
{
    s_level = cli->verbosity >= 2   ? FLOE_LOG_DEBUG
              : cli->verbosity == 1 ? FLOE_LOG_INFO
              : cli->quiet          ? 0
                                    : FLOE_LOG_WARN;
    if (!cli->log_file)
        return 0;
    int fd = open(cli->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || !(s_file = fdopen(fd, "a"))) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        fprintf(stderr, "floe: cannot open --log-file %s: %s\n", cli->log_file, strerror(e));
        return 2;
    }
    setvbuf(s_file, NULL, _IOLBF, 0);
    if (s_level < FLOE_LOG_WARN)
        s_level = FLOE_LOG_WARN; /* a log file asked for is written even with --quiet */
    return 0;
}

static void vline(const char *fmt, va_list ap)
{
    FILE *f = s_file ? s_file : stderr;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    pthread_mutex_lock(&s_mu);
    fprintf(f, "%s.%03ldZ floe: ", when, ts.tv_nsec / 1000000);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
    pthread_mutex_unlock(&s_mu);
}

void floe_cli_logf(int level, const char *fmt, ...)
{
    if (level > s_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vline(fmt, ap);
    va_end(ap);
}

void floe_cli_log_line(void *user, int level, const char *line)
{
    (void)user;
    floe_cli_logf(level, "%s", line);
}

int floe_cli_log_level(void)
{
    return s_level;
}

bool floe_cli_log_is_tty(void)
{
    return !s_file && isatty(2);
}
