#include "testutil.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "divan/base.h"

uint8_t *tu_hex(const char *hex, size_t *len)
{
    size_t n = 0, cap = strlen(hex) / 2 + 1;
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        if (isspace((unsigned char)*p)) continue;
        assert_true(isxdigit((unsigned char)*p));
        int v = isdigit((unsigned char)*p) ? *p - '0' : tolower((unsigned char)*p) - 'a' + 10;
        if (hi < 0)
            hi = v;
        else {
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_int_equal(hi, -1);
    *len = n;
    return out;
}

void tu_assert_hex(const void *p, size_t n, const char *hex)
{
    size_t wn;
    uint8_t *want = tu_hex(hex, &wn);
    assert_int_equal(n, wn);
    if (n) assert_memory_equal(p, want, n);
    free(want);
}

int tu_run(const char *name, const struct CMUnitTest *tests, size_t n)
{
    int failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
    long live = dv_alloc_live();
    if (live > 0) {
        fprintf(stderr, "%s: %ld allocations still live at exit\n", name, live);
        failed++;
    }
    return failed;
}

extern char **environ;

uint64_t tu_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int tu_spawn(char *const argv[], int *out_fd, int *err_fd)
{
    int o[2] = {-1, -1}, e[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd) {
        assert_int_equal(pipe2(o, O_CLOEXEC), 0);
        posix_spawn_file_actions_adddup2(&fa, o[1], 1);
    }
    if (err_fd) {
        assert_int_equal(pipe2(e, O_CLOEXEC), 0);
        posix_spawn_file_actions_adddup2(&fa, e[1], 2);
    }
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (out_fd) {
        close(o[1]);
        *out_fd = o[0];
    }
    if (err_fd) {
        close(e[1]);
        *err_fd = e[0];
    }
    if (rc != 0) fail_msg("cannot run %s: %s", argv[0], strerror(rc));
    return pid;
}

int tu_capture(const char *bin, const char *const *args, int guard_ms, char **out, char **err)
{
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)bin;
    for (; *args && n < 63; args++) argv[n++] = (char *)*args;
    argv[n] = NULL;
    int fds[2];
    pid_t pid = tu_spawn(argv, &fds[0], &fds[1]);
    size_t cap[2] = {4096, 4096}, len[2] = {0, 0};
    char *buf[2] = {malloc(cap[0]), malloc(cap[1])};
    assert_true(buf[0] && buf[1]);
    int open_ = 2;
    uint64_t end = tu_mono_ms() + (uint64_t)guard_ms;
    while (open_ > 0 && tu_mono_ms() < end) {
        struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        if (poll(p, 2, (int)(end - tu_mono_ms())) <= 0) break;
        for (int i = 0; i < 2; i++) {
            if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP))) continue;
            if (len[i] + 1024 >= cap[i]) {
                buf[i] = realloc(buf[i], cap[i] *= 2);
                assert_non_null(buf[i]);
            }
            ssize_t r = read(fds[i], buf[i] + len[i], cap[i] - len[i] - 1);
            if (r <= 0) {
                close(fds[i]);
                fds[i] = -1;
                open_--;
            } else {
                len[i] += (size_t)r;
            }
        }
    }
    if (open_ > 0) kill(pid, SIGKILL);
    for (int i = 0; i < 2; i++) {
        if (fds[i] >= 0) close(fds[i]);
        buf[i][len[i]] = '\0';
    }
    int status;
    waitpid(pid, &status, 0);
    *out = buf[0];
    *err = buf[1];
    if (open_ > 0) fail_msg("%s did not finish within %d ms", bin, guard_ms);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int tu_dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) return fd;
    close(fd);
    return -1;
}

int tu_read_line(int fd, char *buf, size_t len, int timeout_ms)
{
    size_t n = 0;
    uint64_t end = tu_mono_ms() + (uint64_t)timeout_ms;
    while (n + 1 < len) {
        uint64_t now = tu_mono_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (now >= end || poll(&p, 1, (int)(end - now)) <= 0) break;
        char ch;
        if (read(fd, &ch, 1) != 1) break;
        if (ch == '\n') {
            buf[n] = '\0';
            return 0;
        }
        buf[n++] = ch;
    }
    buf[n] = '\0';
    return -1;
}

void tu_program(const char *name, const char *env, char *out, size_t len)
{
    const char *e = env ? getenv(env) : NULL;
    if (e) {
        snprintf(out, len, "%s", e);
        return;
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    snprintf(out, len, "%s/../../bin/%s", dirname(self), name);
}
