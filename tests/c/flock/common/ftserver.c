/* Child server processes, see ftserver.h. */
#define _POSIX_C_SOURCE 200809L
#include "ftserver.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void server_path(const char* argv0, char* out, size_t size)
{
    const char* env = getenv("FT_SERVER");
    if (env && *env) {
        snprintf(out, size, "%s", env);
        return;
    }
    const char* slash = strrchr(argv0, '/');
    if (slash)
        snprintf(out, size, "%.*s/flock-test-server", (int)(slash - argv0), argv0);
    else
        snprintf(out, size, "./flock-test-server");
}

bool ft_server_spawn(ft_server* s, const char* argv0, uint16_t provider_id)
{
    memset(s, 0, sizeof(*s));
    s->pid         = -1;
    s->provider_id = provider_id;
    char path[PATH_MAX];
    server_path(argv0, path, sizeof(path));
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) {
        ft_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
        return false;
    }
    char pid_text[16];
    snprintf(pid_text, sizeof(pid_text), "%u", (unsigned)provider_id);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        ft_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
        return false;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]); close(in[1]); close(out[0]); close(out[1]);
        execl(path, path, ft_protocol, pid_text, (char*)NULL);
        fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    s->pid        = pid;
    s->to_child   = in[1];
    s->from_child = out[0];
    fcntl(s->from_child, F_SETFD, FD_CLOEXEC);
    fcntl(s->to_child, F_SETFD, FD_CLOEXEC);
    char line[512];
    if (!ft_server_wait_prefix(s, "ADDR ", line, sizeof(line), 20000)) {
        ft_fail(__FILE__, __LINE__, "server %s (pid %d) did not report its address", path,
                (int)pid);
        ft_server_kill(s);
        return false;
    }
    snprintf(s->address, sizeof(s->address), "%s", line + 5);
    return true;
}

bool ft_server_send(ft_server* s, const char* line)
{
    size_t n   = strlen(line);
    char*  buf = malloc(n + 1);
    memcpy(buf, line, n);
    buf[n]     = '\n';
    size_t off = 0;
    while (off < n + 1) {
        ssize_t w = write(s->to_child, buf + off, n + 1 - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            free(buf);
            return false;
        }
        off += (size_t)w;
    }
    free(buf);
    return true;
}

static void append_log(ft_server* s, const char* line, size_t len)
{
    s->log = realloc(s->log, s->log_len + len + 2);
    memcpy(s->log + s->log_len, line, len);
    s->log_len += len;
    s->log[s->log_len++] = '\n';
    s->log[s->log_len]   = '\0';
}

/* Reads what is available within timeout_ms; false on EOF / error. */
static bool pump(ft_server* s, int timeout_ms)
{
    struct pollfd p = {s->from_child, POLLIN, 0};
    int           r = poll(&p, 1, timeout_ms);
    if (r <= 0) return r == 0;
    char    buf[4096];
    ssize_t n = read(s->from_child, buf, sizeof(buf));
    if (n <= 0) return false;
    for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] == '\n') {
            append_log(s, s->partial, s->partial_len);
            s->partial_len = 0;
        } else if (s->partial_len + 1 < sizeof(s->partial)) {
            s->partial[s->partial_len++] = buf[i];
        }
    }
    return true;
}

bool ft_server_wait_prefix(ft_server* s, const char* prefix, char* buf, size_t size,
                           int timeout_ms)
{
    double end = ft_now_ms() + timeout_ms;
    for (;;) {
        while (s->log && s->scanned < s->log_len) {
            char*  line = s->log + s->scanned;
            char*  nl   = strchr(line, '\n');
            size_t len  = nl ? (size_t)(nl - line) : strlen(line);
            s->scanned += len + 1;
            if (strncmp(line, prefix, strlen(prefix)) == 0) {
                snprintf(buf, size, "%.*s", (int)len, line);
                return true;
            }
        }
        double left = end - ft_now_ms();
        if (left <= 0) return false;
        if (!pump(s, (int)left)) return false;
    }
}

static bool log_has(const ft_server* s, const char* line)
{
    if (!s->log) return false;
    size_t      len = strlen(line);
    const char* p   = s->log;
    while ((p = strstr(p, line)) != NULL) {
        if ((p == s->log || p[-1] == '\n') && p[len] == '\n') return true;
        p += 1;
    }
    return false;
}

bool ft_server_wait_line(ft_server* s, const char* line, int timeout_ms)
{
    double end = ft_now_ms() + timeout_ms;
    for (;;) {
        if (log_has(s, line)) return true;
        double left = end - ft_now_ms();
        if (left <= 0) return false;
        if (!pump(s, (int)left)) return log_has(s, line);
    }
}

bool ft_server_has_line(ft_server* s, const char* line)
{
    while (pump(s, 0)) {
        struct pollfd p = {s->from_child, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0) break;
    }
    return log_has(s, line);
}

int ft_server_stop(ft_server* s)
{
    if (s->pid <= 0) return -1;
    ft_server_send(s, "QUIT");
    close(s->to_child);
    int    status = 0;
    double end    = ft_now_ms() + 20000;
    pid_t  r;
    while ((r = waitpid(s->pid, &status, WNOHANG)) == 0 && ft_now_ms() < end) {
        pump(s, 50);
    }
    if (r == 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
        ft_fail(__FILE__, __LINE__, "server pid %d did not exit within 20 s of QUIT",
                (int)s->pid);
        status = -1;
    } else if (WIFSIGNALED(status)) {
        ft_fail(__FILE__, __LINE__, "server pid %d died of signal %d", (int)s->pid,
                WTERMSIG(status));
        status = -1;
    } else {
        status = WEXITSTATUS(status);
    }
    close(s->from_child);
    free(s->log);
    s->log = NULL;
    s->pid = -1;
    return status;
}

void ft_server_kill(ft_server* s)
{
    if (s->pid <= 0) return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    close(s->to_child);
    close(s->from_child);
    free(s->log);
    s->log = NULL;
    s->pid = -1;
}
