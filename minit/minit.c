/*
 * minit: PID 1 of every Quilt container.
 *
 * It reaps zombies, forwards signals to the main command, turns the main command's output
 * into log records, and serves ping/start/exec/signal requests from the host on the unix
 * socket it inherits as fd 3. The wire contract is minit/PROTOCOL.md.
 *
 * PID 1 never waits for a child: it sleeps in one poll() over the listening socket, the main
 * command's pipes and a signalfd. Each exec and each terminal gets its own forked handler
 * process, so a slow command or client never holds up PID 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

enum { LISTEN_FD = 3, STATUS_FD = 4, PROTOCOL_VERSION = 1 };
enum { FRAME_DATA_MAX = 64 * 1024 };  /* largest O/E payload */
enum { LOG_LINE_MAX = 4096 };         /* largest log record */
enum { LOG_FLUSH_MS = 200 };          /* how long an unfinished line waits for its end */
enum { REQUEST_TIMEOUT_S = 2 };       /* PID 1 reads and answers requests inline */
enum { LIST_MAX = 65536, STRING_MAX = 1 << 20, REQUEST_MAX = 16 << 20 };
enum { DRAIN_MAX = 1 << 20 };         /* bytes read from a pipe once its writer has exited */
enum { STAGE_CHDIR, STAGE_EXEC };
enum { HANGUP_GRACE_MS = 200 };       /* SIGHUP → SIGKILL when a terminal's client leaves */

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

/* A parsed M, X or T request (T: the terminal's size in cols and rows). */
struct command { char **argv, **env, *cwd; uint32_t timeout_ms, cols, rows; };

/* A process started by spawn(): its pid and the read ends of its stdout/stderr pipes.
 * code is 0 once execve succeeded, else 126/127 (the child is already reaped; msg says why). */
struct spawned { pid_t pid; int out, err, code; char msg[512]; };

/* One stream of the main command on its way into the log: its unfinished line. */
struct logbuf { char stream; size_t len; int64_t since; char data[LOG_LINE_MAX]; };

/* The state of PID 1. */
static struct {
    int sigfd, devnull, listening;
    pid_t main_pid;  /* 0: none yet, -1: exited */
    int main_out, main_err;
    struct logbuf out_log, err_log;
} g = {.main_out = -1, .main_err = -1, .out_log = {.stream = 'o'}, .err_log = {.stream = 'e'}};

/* An exec handler's view of its command; deadline is CLOCK_MONOTONIC ms, -1 for none. */
struct exec { int sock; pid_t pid; int64_t deadline; int timed_out; };

/* ---- small helpers ----------------------------------------------------------------------- */

static int64_t now_ms(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A poll() timeout: -1 (forever) without a deadline, 0 once it has passed. */
static int ms_until(int64_t deadline) {
    if (deadline < 0) return -1;
    int64_t left = deadline - now_ms(CLOCK_MONOTONIC);
    return left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* write() may be short or interrupted; keep going until all of buf is out. */
static int write_all(int fd, const void *buf, size_t len) {
    for (const char *p = buf; len > 0;) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void reap(pid_t pid, int *status) {
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {}
}

/* Exit code with the 128 + N rule for signals; *sig gets the signal or 0. */
static int exit_code(int status, int *sig) {
    *sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return *sig ? 128 + *sig : WEXITSTATUS(status);
}

/* ---- log records (fd 1) ------------------------------------------------------------------- */

/* A record goes out in one write(), so readers never see half a header. */
static void log_record(char stream, const char *data, size_t len) {
    char rec[64 + LOG_LINE_MAX + 1];
    if (len > LOG_LINE_MAX) len = LOG_LINE_MAX;
    int head = snprintf(rec, 64, "%lld %c %zu:", (long long)now_ms(CLOCK_REALTIME), stream, len);
    memcpy(rec + head, data, len);
    rec[head + len] = '\n';
    write_all(1, rec, (size_t)head + len + 1);
}

static void log_message(const char *fmt, ...) {
    char msg[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg + 7, sizeof msg - 8, fmt, ap);
    va_end(ap);
    size_t len = 7 + (n < 0 ? 0 : (size_t)n < sizeof msg - 8 ? (size_t)n : sizeof msg - 9);
    memcpy(msg, "minit: ", 7);
    msg[len++] = '\n';
    log_record('e', msg, len);
}

static void log_flush(struct logbuf *b) {
    if (b->len > 0) log_record(b->stream, b->data, b->len);
    b->len = 0;
}

/* Cuts output into records: one line each (split after '\n'), or LOG_LINE_MAX bytes of a
 * longer one. An unfinished line waits for its end up to LOG_FLUSH_MS (see serve()). */
static void log_feed(struct logbuf *b, const char *p, size_t n) {
    while (n > 0) {
        if (b->len == 0) b->since = now_ms(CLOCK_MONOTONIC);
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) + 1 : n;
        if (take > LOG_LINE_MAX - b->len) take = LOG_LINE_MAX - b->len;
        memcpy(b->data + b->len, p, take);
        b->len += take;
        p += take;
        n -= take;
        if (b->data[b->len - 1] == '\n' || b->len == LOG_LINE_MAX) log_flush(b);
    }
}

/* Flushes unfinished lines that have waited long enough; returns the poll() timeout until
 * the next one is due. */
static int log_flush_due(void) {
    int timeout = -1;
    struct logbuf *bufs[] = {&g.out_log, &g.err_log};
    for (int i = 0; i < 2; i++) {
        if (bufs[i]->len == 0) continue;
        int left = ms_until(bufs[i]->since + LOG_FLUSH_MS);
        if (left == 0) log_flush(bufs[i]);
        else if (timeout < 0 || left < timeout) timeout = left;
    }
    return timeout;
}

/* Moves up to max bytes a main-command pipe holds into log records; closes it at EOF. */
static void pump_main(int *fd, struct logbuf *b, size_t max) {
    char buf[16384];
    for (size_t moved = 0; *fd >= 0 && moved < max;) {
        ssize_t n = read(*fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            close(*fd);
            *fd = -1;
            log_flush(b);
            return;
        }
        log_feed(b, buf, (size_t)n);
        moved += (size_t)n;
    }
}

/* ---- frames ------------------------------------------------------------------------------- */

static void expire(struct exec *x) {
    kill(-x->pid, SIGKILL);
    x->timed_out = 1;
    x->deadline = -1;
}

/* Sends all of buf (MSG_NOSIGNAL: a gone client is an error, not a SIGPIPE). PID 1
 * (x == NULL) relies on SO_SNDTIMEO. An exec handler must enforce the command's timeout
 * even while its client is slow to read, so it waits for room with poll() on the deadline. */
static int send_all(int fd, const void *buf, size_t len, struct exec *x) {
    for (const char *p = buf; len > 0;) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | (x ? MSG_DONTWAIT : 0));
        if (n >= 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (errno == EINTR) continue;
        if (!x || errno != EAGAIN) return -1;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int r = poll(&pfd, 1, ms_until(x->deadline));
        if (r == 0) expire(x);
        if (r < 0 && errno != EINTR) return -1;
    }
    return 0;
}

static int send_frame(int fd, char type, const void *payload, size_t len, struct exec *x) {
    static unsigned char frame[5 + FRAME_DATA_MAX];  /* one send() per frame */
    if (len > FRAME_DATA_MAX) len = FRAME_DATA_MAX;
    frame[0] = (unsigned char)type;
    put_u32(frame + 1, (uint32_t)len);
    memcpy(frame + 5, payload, len);
    return send_all(fd, frame, 5 + len, x);
}

static int send_u32s(int fd, char type, const uint32_t *values, int count, struct exec *x) {
    unsigned char payload[16];
    for (int i = 0; i < count; i++) put_u32(payload + 4 * i, values[i]);
    return send_frame(fd, type, payload, 4 * (size_t)count, x);
}

static void send_failure(int fd, const char *msg) {
    send_frame(fd, 'F', msg, strlen(msg), NULL);
}

/* ---- requests ------------------------------------------------------------------------------ */

/* Buffered reads of one request (few recv() calls); one over REQUEST_MAX is malformed. */
struct reader {
    int fd;
    size_t pos, len, total;
    char buf[8192];
};

static int read_exact(struct reader *r, void *dst, size_t n) {
    if ((r->total += n) > REQUEST_MAX) return -1;
    for (char *d = dst; n > 0;) {
        if (r->pos == r->len) {
            ssize_t got = recv(r->fd, r->buf, sizeof r->buf, 0);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) return -1;  /* end of stream, error, or SO_RCVTIMEO passed */
            r->pos = 0;
            r->len = (size_t)got;
        }
        size_t take = r->len - r->pos < n ? r->len - r->pos : n;
        memcpy(d, r->buf + r->pos, take);
        r->pos += take;
        d += take;
        n -= take;
    }
    return 0;
}

static int read_u32(struct reader *r, uint32_t *v) {
    unsigned char b[4];
    if (read_exact(r, b, 4) < 0) return -1;
    *v = get_u32(b);
    return 0;
}

/* A string as a C string; one with a NUL inside could not reach execve intact. */
static char *read_string(struct reader *r) {
    uint32_t len;
    if (read_u32(r, &len) < 0 || len > STRING_MAX) return NULL;
    char *s = malloc(len + 1);
    if (!s || read_exact(r, s, len) < 0 || memchr(s, 0, len)) {
        free(s);
        return NULL;
    }
    s[len] = 0;
    return s;
}

static void free_list(char **v) {
    for (size_t i = 0; v && v[i]; i++) free(v[i]);
    free(v);
}

/* A list as a NULL-terminated vector, as execve wants it. */
static char **read_list(struct reader *r) {
    uint32_t n;
    if (read_u32(r, &n) < 0 || n > LIST_MAX) return NULL;
    char **v = calloc(n + 1, sizeof *v);
    for (uint32_t i = 0; v && i < n; i++) {
        if (!(v[i] = read_string(r))) {
            free_list(v);
            return NULL;
        }
    }
    return v;
}

static void free_command(struct command *c) {
    free_list(c->argv);
    free_list(c->env);
    free(c->cwd);
    memset(c, 0, sizeof *c);
}

static int read_command(struct reader *r, struct command *c, char op) {
    uint32_t flags = 0;
    memset(c, 0, sizeof *c);
    int ok = (c->argv = read_list(r)) && c->argv[0] && (c->env = read_list(r)) &&
             (c->cwd = read_string(r));
    if (ok && op == 'X')  /* flags are reserved: refuse what this minit cannot honour */
        ok = read_u32(r, &c->timeout_ms) == 0 && read_u32(r, &flags) == 0 && flags == 0;
    if (ok && op == 'T') ok = read_u32(r, &c->cols) == 0 && read_u32(r, &c->rows) == 0;
    if (!ok) free_command(c);
    return ok ? 0 : -1;
}

/* ---- spawning ------------------------------------------------------------------------------ */

static const char *env_get(char **env, const char *name) {
    size_t len = strlen(name);
    for (size_t i = 0; env[i]; i++)
        if (strncmp(env[i], name, len) == 0 && env[i][len] == '=') return env[i] + len + 1;
    return NULL;
}

/* execve with argv[0] looked up in the request's PATH (not minit's), as execvp does.
 * Returns only on failure, with errno set; EACCES wins over ENOENT when some candidate
 * existed but could not be run. */
static void exec_path(char **argv, char **env) {
    const char *name = argv[0], *path = env_get(env, "PATH");
    if (strchr(name, '/')) {
        execve(name, argv, env);
        return;
    }
    size_t name_len = strlen(name);
    if (name_len == 0 || name_len > NAME_MAX) {
        errno = name_len ? ENAMETOOLONG : ENOENT;
        return;
    }
    int denied = 0;
    char file[PATH_MAX + NAME_MAX + 2];
    for (const char *dir = path ? path : DEFAULT_PATH;; dir++) {
        const char *end = strchrnul(dir, ':');
        size_t dir_len = (size_t)(end - dir);
        if (dir_len < PATH_MAX) {
            memcpy(file, dir, dir_len);
            file[dir_len] = '/';
            memcpy(file + dir_len + (dir_len > 0), name, name_len + 1);  /* "" means "." */
            execve(file, argv, env);
            if (errno == EACCES) denied = 1;
            else if (errno != ENOENT && errno != ENOTDIR) return;
        }
        if (*end == 0) break;
        dir = end;
    }
    errno = denied ? EACCES : ENOENT;
}

/* Signals minit found ignored at start (and SIGPIPE, which it ignores itself), bit s - 1
 * for signal s: ignored signals survive execve, so a child puts exactly these back to
 * default (a plain mask: libc's sigset functions refuse its own internal signals). */
static uint64_t ignored;

/* What a child tells its parent before it execs: filled only on failure. The parent sleeps
 * until the child has exec'd or exited (CLONE_VFORK) and shares its memory (CLONE_VM). */
struct child {
    const struct command *c;
    int out, err, tty;
    volatile int failed, stage, error;  /* failed stays 0 once execve succeeded */
};

/* The child up to execve: a new session (so its pgid is its pid and its whole group can be
 * killed), default signal state, and stdio: /dev/null and pipes, or (tty >= 0) a terminal
 * that becomes the session's controlling terminal. It runs on its own stack in its parent's
 * memory, so it only makes system calls and writes its own struct child. */
static int child_exec(void *arg) {
    /* libc's sigaction() refuses glibc's internal signals 32 and 33 (posix_spawn leaves
     * them ignored), so use the raw syscall: an all-zero kernel sigaction is SIG_DFL. */
    static const unsigned long dfl[4];
    struct child *ch = arg;
    const struct command *c = ch->c;
    sigset_t none;
    int out = ch->out, err = ch->err;
    setsid();
    for (int s = 1; s < NSIG && s <= 64; s++)
        if (ignored >> (s - 1) & 1) syscall(SYS_rt_sigaction, s, dfl, NULL, (NSIG - 1) / 8);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (ch->tty >= 0) {
        ioctl(ch->tty, TIOCSCTTY, 0);
        out = err = ch->tty;
    }
    dup2(ch->tty >= 0 ? ch->tty : g.devnull, 0);
    dup2(out, 1);
    dup2(err, 2);
    int stage = STAGE_CHDIR;
    if (chdir(c->cwd) == 0) {
        exec_path(c->argv, c->env);
        stage = STAGE_EXEC;
    }
    ch->error = errno;
    ch->stage = stage;
    ch->failed = 1;
    _exit(127);
}

/* Finds the signals that are ignored now (see `ignored`). */
static void find_ignored(void) {
    ignored = 0;
    for (int s = 1; s < NSIG && s <= 64; s++) {
        unsigned long act[4] = {0};
        if (syscall(SYS_rt_sigaction, s, NULL, act, (NSIG - 1) / 8) == 0 &&
            act[0] == (unsigned long)SIG_IGN)
            ignored |= (uint64_t)1 << (s - 1);
    }
}

/* Starts c, on pipes or (tty >= 0) on a terminal. Returns -1 (with s->msg) only if no
 * process could be made; a failed chdir or execve still yields a pid, with s->code 126/127
 * and s->msg saying why.
 *
 * clone(CLONE_VM | CLONE_VFORK), as posix_spawn does, rather than fork(): the child copies
 * no page tables, and its parent learns how execve went from shared memory, not a pipe. */
static int spawn(const struct command *c, struct spawned *s, int tty) {
    static char stack[64 * 1024] __attribute__((aligned(16)));  /* one child at a time */
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    struct child ch = {.c = c, .tty = tty};
    memset(s, 0, sizeof *s);
    if (tty < 0 && (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))) goto fail;
    ch.out = out[1];
    ch.err = err[1];
    s->pid = clone(child_exec, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &ch);
    if (s->pid < 0) goto fail;
    s->out = s->err = -1;
    if (tty < 0) {
        close(out[1]);
        close(err[1]);
        s->out = out[0];
        s->err = err[0];
        fcntl(s->out, F_SETFL, O_NONBLOCK);  /* drained after exit without waiting for writers */
        fcntl(s->err, F_SETFL, O_NONBLOCK);
    }
    if (ch.failed) {
        int in_chdir = ch.stage == STAGE_CHDIR;
        reap(s->pid, NULL);
        s->code = !in_chdir && ch.error == ENOENT ? 127 : 126;
        snprintf(s->msg, sizeof s->msg - 1, "minit: %s %s: %s", in_chdir ? "chdir" : "exec",
                 in_chdir ? c->cwd : c->argv[0], strerror(ch.error));
    }
    return 0;
fail:
    snprintf(s->msg, sizeof s->msg, "minit: cannot start %s: %s", c->argv[0], strerror(errno));
    int fds[] = {out[0], out[1], err[0], err[1]};
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0) close(fds[i]);
    return -1;
}

/* ---- exec handler (a forked child of PID 1) ------------------------------------------------- */

/* Forwards what one pipe holds as a frame. Returns -1 if the client is gone, 1 after
 * sending data, 0 otherwise (closing the pipe at EOF). */
static int pump_exec(struct exec *x, int *fd, char type) {
    static char buf[FRAME_DATA_MAX];
    ssize_t n = read(*fd, buf, sizeof buf);
    if (n > 0) return send_frame(x->sock, type, buf, (size_t)n, x) < 0 ? -1 : 1;
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
    close(*fd);
    *fd = -1;
    return 0;
}

/* Sends what is already in a pipe; background writers that kept it open are not waited for. */
static int drain_exec(struct exec *x, int *fd, char type) {
    int r = 1;
    for (size_t sent = 0; *fd >= 0 && r == 1 && sent < DRAIN_MAX; sent += FRAME_DATA_MAX)
        r = pump_exec(x, fd, type);
    return r;
}

/* Drops every fd of PID 1's a handler must not hold, so none outlives its purpose. */
static void become_handler(void) {
    sigset_t none;
    int fds[] = {LISTEN_FD, STATUS_FD, g.sigfd, g.main_out, g.main_err};
    for (int i = 0; i < 5; i++)
        if (fds[i] >= 0) close(fds[i]);
    dup2(g.devnull, 1);  /* the log belongs to PID 1 */
    dup2(g.devnull, 2);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static _Noreturn void hang_up(struct exec *x) {
    kill(-x->pid, SIGKILL);
    reap(x->pid, NULL);
    _exit(0);
}

static _Noreturn void send_exit(struct exec *x, int code, int sig) {
    unsigned char payload[9];
    put_u32(payload, (uint32_t)code);
    put_u32(payload + 4, (uint32_t)sig);
    payload[8] = (unsigned char)x->timed_out;
    send_frame(x->sock, 'X', payload, sizeof payload, x);
    _exit(0);
}

/* Runs one exec request to its end: S, then O/E as output arrives, then X. */
static _Noreturn void run_exec(int sock, const struct command *c) {
    struct exec x = {.sock = sock, .deadline = -1};
    struct spawned s;
    if (spawn(c, &s, -1) < 0) {
        send_failure(sock, s.msg);
        _exit(1);
    }
    x.pid = s.pid;
    int pidfd = s.code ? -1 : (int)syscall(SYS_pidfd_open, s.pid, 0);
    if (!s.code && pidfd < 0) {
        snprintf(s.msg, sizeof s.msg, "minit: pidfd_open: %s", strerror(errno));
        kill(-x.pid, SIGKILL);
        reap(x.pid, NULL);
        send_failure(sock, s.msg);
        _exit(1);
    }
    uint32_t pid = (uint32_t)s.pid;
    if (send_u32s(sock, 'S', &pid, 1, &x) < 0) hang_up(&x);
    if (s.code) {
        strcat(s.msg, "\n");  /* spawn() left room for it */
        send_frame(sock, 'E', s.msg, strlen(s.msg), &x);
        send_exit(&x, s.code, 0);
    }
    if (c->timeout_ms) x.deadline = now_ms(CLOCK_MONOTONIC) + c->timeout_ms;
    for (;;) {
        /* The socket is polled for no event: POLLHUP/POLLERR alone say the client left. */
        struct pollfd p[4] = {{s.out, POLLIN, 0}, {s.err, POLLIN, 0}, {sock, 0, 0},
                              {pidfd, POLLIN, 0}};
        int r = poll(p, 4, ms_until(x.deadline));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 || p[2].revents) hang_up(&x);
        if (r == 0) expire(&x);
        if (p[0].revents && pump_exec(&x, &s.out, 'O') < 0) hang_up(&x);
        if (p[1].revents && pump_exec(&x, &s.err, 'E') < 0) hang_up(&x);
        if (p[3].revents) break;
    }
    int status, sig;
    reap(x.pid, &status);
    if (drain_exec(&x, &s.out, 'O') < 0 || drain_exec(&x, &s.err, 'E') < 0) hang_up(&x);
    int code = exit_code(status, &sig);
    if (x.timed_out) {  /* the contract, even if the process beat the kill */
        code = 128 + SIGKILL;
        sig = SIGKILL;
    }
    send_exit(&x, code, sig);
}

/* ---- terminal handler (a forked child of PID 1) --------------------------------------------- */

/* Client frames of a terminal connection, buffered until whole. */
struct inbox { size_t len; unsigned char buf[5 + FRAME_DATA_MAX]; };

static void set_size(int master, uint32_t cols, uint32_t rows) {
    struct winsize ws = {.ws_row = (unsigned short)(rows ? rows : 24),
                         .ws_col = (unsigned short)(cols ? cols : 80)};
    ioctl(master, TIOCSWINSZ, &ws);
}

/* Writes client input to the terminal. The terminal may be full while its program waits
 * for us to read what it wrote, so its output is forwarded while we wait for room. */
static int feed_terminal(struct exec *x, int master, const unsigned char *p, size_t len) {
    while (len > 0) {
        ssize_t n = write(master, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN) return 0;  /* the terminal is gone: drop the input */
        struct pollfd pfd = {.fd = master, .events = POLLOUT | POLLIN};
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR) return 0;
        if ((pfd.revents & POLLIN) && pump_exec(x, &master, 'O') < 0) return -1;
        if (master < 0) return 0;
    }
    return 0;
}

/* Acts on one client frame: I input, R resize (u32 cols, u32 rows), G signal (u32) for the
 * terminal's foreground process group. Returns -1 if the client is gone. */
static int terminal_frame(struct exec *x, int master, char type, const unsigned char *p,
                          size_t len) {
    if (type == 'I') return feed_terminal(x, master, p, len);
    if (type == 'R' && len == 8) set_size(master, get_u32(p), get_u32(p + 4));
    if (type == 'G' && len == 4) {
        uint32_t sig = get_u32(p);
        pid_t group = tcgetpgrp(master);
        if (sig > 0 && sig < NSIG && kill(-(group > 0 ? group : x->pid), (int)sig) < 0)
            kill(-x->pid, (int)sig);
    }
    return 0;
}

static int terminal_drain(struct exec *x, int master, struct inbox *in);

/* Reads what the client sent and acts on every whole frame. Returns -1 when it hung up. */
static int terminal_input(struct exec *x, int master, struct inbox *in) {
    ssize_t n = recv(x->sock, in->buf + in->len, sizeof in->buf - in->len, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return -1;
    if (n < 0) return 0;
    in->len += (size_t)n;
    return terminal_drain(x, master, in);
}

/* Acts on every whole frame in the inbox. Returns -1 when the client must be dropped. */
static int terminal_drain(struct exec *x, int master, struct inbox *in) {
    for (;;) {
        if (in->len < 5) return 0;
        size_t len = get_u32(in->buf + 1);
        if (len > FRAME_DATA_MAX) return -1;  /* malformed: treat as a hang-up */
        if (in->len < 5 + len) return 0;
        if (terminal_frame(x, master, (char)in->buf[0], in->buf + 5, len) < 0) return -1;
        memmove(in->buf, in->buf + 5 + len, in->len - 5 - len);
        in->len -= 5 + len;
    }
}

/* The client left: the session gets SIGHUP, as when a terminal window closes, then SIGKILL. */
static _Noreturn void hang_up_terminal(struct exec *x, int pidfd) {
    kill(-x->pid, SIGHUP);
    struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
    if (poll(&pfd, 1, HANGUP_GRACE_MS) <= 0) kill(-x->pid, SIGKILL);
    hang_up(x);
}

/* Runs one terminal request: S, then O as the terminal prints and I/R/G from the client
 * acted on, then X when the program ends. `early` holds client frames that arrived with
 * the request. */
static _Noreturn void run_terminal(int sock, const struct command *c, const char *early,
                                   size_t early_len) {
    struct exec x = {.sock = sock, .deadline = -1};
    struct spawned s;
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), tty = -1;
    if (master < 0 || unlockpt(master) < 0 ||
        (tty = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
        snprintf(s.msg, sizeof s.msg, "minit: cannot open a terminal: %s", strerror(errno));
        send_failure(sock, s.msg);
        _exit(1);
    }
    set_size(master, c->cols, c->rows);
    if (spawn(c, &s, tty) < 0) {
        send_failure(sock, s.msg);
        _exit(1);
    }
    close(tty);
    fcntl(master, F_SETFL, O_NONBLOCK);
    x.pid = s.pid;
    int pidfd = s.code ? -1 : (int)syscall(SYS_pidfd_open, s.pid, 0);
    uint32_t pid = (uint32_t)s.pid;
    if (send_u32s(sock, 'S', &pid, 1, &x) < 0) hang_up(&x);
    if (s.code || pidfd < 0) {
        strcat(s.msg, "\r\n");  /* spawn() left room for it */
        send_frame(sock, 'O', s.msg, strlen(s.msg), &x);
        send_exit(&x, s.code ? s.code : 126, 0);
    }
    struct inbox *in = calloc(1, sizeof *in);
    if (!in || early_len > sizeof in->buf) hang_up_terminal(&x, pidfd);
    memcpy(in->buf, early, early_len);
    in->len = early_len;
    if (early_len && terminal_drain(&x, master, in) < 0) hang_up_terminal(&x, pidfd);
    for (;;) {
        struct pollfd p[3] = {{master, POLLIN, 0}, {sock, POLLIN, 0}, {pidfd, POLLIN, 0}};
        int r = poll(p, 3, -1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) hang_up_terminal(&x, pidfd);
        if (p[0].revents && pump_exec(&x, &master, 'O') < 0) hang_up_terminal(&x, pidfd);
        if (p[1].revents && terminal_input(&x, master, in) < 0) hang_up_terminal(&x, pidfd);
        if (p[2].revents) break;
    }
    int status, sig;
    reap(x.pid, &status);
    if (drain_exec(&x, &master, 'O') < 0) hang_up(&x);
    int code = exit_code(status, &sig);
    send_exit(&x, code, sig);
}

/* ---- PID 1 ---------------------------------------------------------------------------------- */

static _Noreturn void finish(const char *word, int value, int code) {
    char line[64];
    int n = snprintf(line, sizeof line, "%s %d\n", word, value);
    write_all(STATUS_FD, line, (size_t)n);
    exit(code);
}

/* The main command has exited: log what its pipes still hold, record its code, and leave
 * (as PID 1, that ends every other process in the container). */
static _Noreturn void main_exited(int status) {
    int sig, code = exit_code(status, &sig);
    g.main_pid = -1;
    pump_main(&g.main_out, &g.out_log, DRAIN_MAX);
    pump_main(&g.main_err, &g.err_log, DRAIN_MAX);
    log_flush(&g.out_log);
    log_flush(&g.err_log);
    finish("exited", code, code);
}

static void reap_children(void) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR) continue;
        if (pid <= 0) return;
        if (pid == g.main_pid) main_exited(status);
    }
}

static void handle_signals(void) {
    struct signalfd_siginfo si[16];
    ssize_t n = read(g.sigfd, si, sizeof si);
    for (ssize_t i = 0; i < n / (ssize_t)sizeof si[0]; i++) {
        int sig = (int)si[i].ssi_signo;
        if (sig == SIGCHLD) reap_children();
        else if (g.main_pid > 0) kill(-g.main_pid, sig);
        else if (sig == SIGTERM || sig == SIGINT) finish("stopped", sig, 128 + sig);
    }
}

/* Starts the main command. Returns 0, or the exit code its failure means (msg says why). */
static int start_main(const struct command *c, char *msg, size_t size) {
    struct spawned s;
    if (spawn(c, &s, -1) < 0 || s.code) {
        snprintf(msg, size, "%s", s.msg);
        return s.code ? s.code : 126;
    }
    g.main_pid = s.pid;
    g.main_out = s.out;
    g.main_err = s.err;
    return 0;
}

/* The answer_* functions reply to one request, or return the message of the F frame due. */
static const char *answer_start(int fd, struct reader *r) {
    static char msg[512];
    struct command c;
    if (read_command(r, &c, 'M') < 0) return "malformed request";
    const char *failure = NULL;
    if (g.main_pid != 0) failure = "the main command was already started";
    else if (start_main(&c, msg, sizeof msg) != 0) failure = msg;
    else send_u32s(fd, 'S', (uint32_t[]){(uint32_t)g.main_pid}, 1, NULL);
    free_command(&c);
    return failure;
}

static const char *answer_signal(int fd, struct reader *r) {
    unsigned char b[8];
    if (read_exact(r, b, sizeof b) < 0) return "malformed request";
    int32_t pid = (int32_t)get_u32(b);
    uint32_t sig = get_u32(b + 4), err = 0;
    if (pid == 0) pid = g.main_pid > 0 ? g.main_pid : 0;
    if (pid == 0) err = ESRCH;
    else if (pid < 0 || sig >= NSIG) err = EINVAL;  /* never a group, never everyone */
    else if (kill(pid, (int)sig) < 0) err = (uint32_t)errno;
    send_u32s(fd, 'K', &err, 1, NULL);
    return NULL;
}

/* X and T: read the request, then fork the handler that serves it to its end. */
static const char *answer_exec(int fd, struct reader *r, char op) {
    static char msg[128];
    struct command c;
    if (read_command(r, &c, op) < 0) return "malformed request";
    pid_t pid = fork();
    if (pid == 0) {
        become_handler();
        if (op == 'T') run_terminal(fd, &c, r->buf + r->pos, r->len - r->pos);
        run_exec(fd, &c);
    }
    snprintf(msg, sizeof msg, "minit: fork: %s", strerror(errno));
    free_command(&c);
    return pid < 0 ? msg : NULL;
}

/* Reads one request under SO_RCVTIMEO and answers it: P, M and K here, X and T in a handler. */
static void serve_connection(int fd) {
    static char unknown[32];
    struct timeval tv = {.tv_sec = REQUEST_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct reader r = {.fd = fd};
    unsigned char op;
    uint32_t ping[2] = {PROTOCOL_VERSION, (uint32_t)g.main_pid};
    if (read_exact(&r, &op, 1) < 0) return;  /* the client left without asking */
    const char *failure = NULL;
    switch (op) {
    case 'P': send_u32s(fd, 'P', ping, 2, NULL); break;
    case 'M': failure = answer_start(fd, &r); break;
    case 'K': failure = answer_signal(fd, &r); break;
    case 'X':
    case 'T': failure = answer_exec(fd, &r, (char)op); break;
    default:
        snprintf(unknown, sizeof unknown, "unknown op 0x%02x", op);
        failure = unknown;
    }
    if (failure) send_failure(fd, failure);
}

static _Noreturn void serve(void) {
    for (;;) {
        struct pollfd p[4] = {{g.sigfd, POLLIN, 0}, {g.listening ? LISTEN_FD : -1, POLLIN, 0},
                              {g.main_out, POLLIN, 0}, {g.main_err, POLLIN, 0}};
        int r = poll(p, 4, log_flush_due());
        if (r < 0 && errno != EINTR) {
            log_message("poll: %s", strerror(errno));
            finish("exited", 1, 1);
        }
        if (r <= 0) continue;
        /* Bounded reads, so a chatty main command cannot starve requests. */
        if (p[2].revents) pump_main(&g.main_out, &g.out_log, 4 * FRAME_DATA_MAX);
        if (p[3].revents) pump_main(&g.main_err, &g.err_log, 4 * FRAME_DATA_MAX);
        if (p[0].revents) handle_signals();
        if (p[1].revents) {
            int fd = accept4(LISTEN_FD, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {  /* EAGAIN: the client gave up between poll() and accept() */
                serve_connection(fd);
                close(fd);
            }
        }
    }
}

/* mkdir -p; errors show up later as the main command's failed chdir. */
static void make_dirs(const char *path) {
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return;
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != 0) continue;
        char c = *p;
        *p = 0;
        mkdir(buf, 0755);
        if ((*p = c) == 0) return;
    }
}

/* Blocks the signals PID 1 handles, so they queue on the signalfd instead of interrupting
 * it, and marks every inherited fd close-on-exec, so none leaks into commands. */
static void setup(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaddset(&set, forwarded[i]);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    find_ignored();
    g.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (getpid() != 1) prctl(PR_SET_CHILD_SUBREAPER, 1);  /* orphans come to us, as to PID 1 */
    for (int fd = 1; fd <= STATUS_FD; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
    syscall(SYS_close_range, STATUS_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC);
    g.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    /* Non-blocking, so a client that gives up before accept() cannot block PID 1. */
    int flags = fcntl(LISTEN_FD, F_GETFL);
    g.listening = flags >= 0 && fcntl(LISTEN_FD, F_SETFL, flags | O_NONBLOCK) == 0;
    if (!g.listening) log_message("no listening socket on fd 3; serving no requests");
}

int main(int argc, char **argv) {
    const char *cwd = "/";
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--cwd") == 0 && i + 1 < argc) {
            cwd = argv[++i];
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            log_message("usage: minit [--cwd DIR] [-- ARGV...]");
            return 2;
        }
    }
    setup();
    if (i < argc) {
        struct command c = {.argv = argv + i, .env = environ, .cwd = (char *)cwd};
        char msg[512];
        make_dirs(cwd);
        int code = start_main(&c, msg, sizeof msg);
        if (code != 0) {
            log_message("%s", msg + strlen("minit: "));
            finish("exited", code, code);
        }
    }
    serve();
}
