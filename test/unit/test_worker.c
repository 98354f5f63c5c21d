/*
 * test_worker.c - a real worker process (server/worker.c): this process
 * plays the master. It creates the engine (fixture.c), a listener on
 * 127.0.0.1:0, the connection quota and the control socketpair, claims the
 * worker's engine slot, forks, and the child runs worker_run(). Then it
 * talks to the worker as a client and as the master:
 *   - requests are served, on the shared cache (the master sees the key);
 *   - "verbosity N" from a client is relayed to the master;
 *   - -c with maxconns_fast: the client over the limit gets memcached's
 *     error and is closed, and is counted as rejected;
 *   - SIGTERM (graceful), SIGQUIT (immediate) and the master going away
 *     (EOF on the control socket) each end the worker with status 0;
 *   - "handoff" makes it send its client connection to the master and exit;
 *   - a worker whose parent is not the master it was given leaves at once.
 * After every stop, the worker's engine slot must be free again (the next
 * attach gets the same slot number) and its quota units given back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "fixture.h"
#include "server/connquota.h"
#include "server/handoff.h"
#include "server/listener.h"
#include "server/settings.h"
#include "server/srvstate.h"
#include "server/worker.h"
#include "unit.h"

#define WAIT_MS 5000

struct wrig {
    struct fixture f;
    struct settings s;
    struct listeners ls;
    struct conn_quota *q;
    struct srvstate *state;
    int ctl;                /* the master's end of the control socketpair */
    int slotno;             /* the worker's engine slot */
    int port;
    pid_t pid;
};

static int wrig_start(struct wrig *r, int maxconns, pid_t master_pid)
{
    static const char addr[1][SHMC_HOST_MAX] = { "127.0.0.1" };
    struct listen_config lc = { addr, 1, 0, 16, "", 0700 };
    struct logger quiet;
    int sv[2];

    memset(r, 0, sizeof(*r));
    r->ctl = -1;
    if (fixture_open(&r->f, 8, NULL) < 0)
        return -1;
    settings_defaults(&r->s);
    r->s.threads = 1;
    r->s.maxconns = maxconns;
    log_init(&quiet, 0);
    quiet.fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (listeners_open(&r->ls, &lc, &quiet) < 0)
        return -1;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    getsockname(r->ls.l[0].fd, (struct sockaddr *)&sa, &sl);
    r->port = ntohs(sa.sin_port);
    r->q = conn_quota_create(ENGINE_MAX_SLOTS);
    r->state = srvstate_create();
    struct engine_worker *slot = engine_worker_attach(r->f.e, 0);
    if (r->q == NULL || r->state == NULL || slot == NULL ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    r->slotno = engine_worker_slot(slot);

    r->pid = fork();
    if (r->pid < 0)
        return -1;
    if (r->pid == 0) {
        sigset_t block;         /* as the master forks: signals blocked */
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGQUIT);
        sigprocmask(SIG_BLOCK, &block, NULL);
        close(sv[0]);
        struct worker_config cfg = {
            .index = 0, .engine = r->f.e, .slot = slot,
            .settings = &r->s, .listeners = &r->ls, .state = r->state,
            .quota = r->q,
            .ctl_fd = sv[1], .master_pid = master_pid ? master_pid
                                                      : getppid(),
            .log = quiet,
        };
        _exit(worker_run(&cfg));
    }
    close(sv[1]);
    close(quiet.fd);
    r->ctl = sv[0];
    engine_worker_free(slot);       /* the master's copy of the handle */
    return 0;
}

/* Waits up to WAIT_MS for the worker to exit; returns its exit status,
 * or -1 (killed, or did not exit in time: then SIGKILLed). */
static int wrig_wait(struct wrig *r)
{
    int st;
    for (int i = 0; i < WAIT_MS / 10; i++) {
        pid_t p = waitpid(r->pid, &st, WNOHANG);
        if (p == r->pid) {
            r->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        usleep(10000);
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, &st, 0);
    r->pid = 0;
    fprintf(stderr, "\n  the worker did not exit in %d ms\n", WAIT_MS);
    return -1;
}

/* 1 when the worker's slot was detached: the next claim gets it. */
static int slot_was_freed(struct wrig *r)
{
    struct engine_worker *w = engine_worker_attach(r->f.e, 0);
    int same = w != NULL && engine_worker_slot(w) == r->slotno;
    engine_worker_detach(w);
    return same;
}

static void wrig_close(struct wrig *r)
{
    if (r->pid > 0)
        wrig_wait(r);
    if (r->ctl >= 0)
        close(r->ctl);
    listeners_close(&r->ls);
    conn_quota_destroy(r->q);
    srvstate_destroy(r->state);
    fixture_close(&r->f);
}

static int client(struct wrig *r)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)r->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads from fd until want arrived in full, EOF, or WAIT_MS. Returns the
 * bytes read (NUL-terminated in buf). */
static size_t read_reply(int fd, char *buf, size_t cap, const char *want)
{
    size_t len = 0;
    buf[0] = '\0';
    while (len < cap - 1 && strstr(buf, want) == NULL) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, WAIT_MS) <= 0)
            break;
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
    }
    return len;
}

static int wait_eof(int fd)
{
    char b[256];
    struct pollfd p = { fd, POLLIN, 0 };
    while (poll(&p, 1, WAIT_MS) > 0) {
        ssize_t n = read(fd, b, sizeof(b));
        if (n == 0)
            return 1;
        if (n < 0)
            return errno == ECONNRESET;
    }
    return 0;
}

static void test_worker_serves_and_stops(void)
{
    struct wrig r;
    char buf[512];
    CU_ASSERT_FATAL(wrig_start(&r, 100, 0) == 0);
    int c = client(&r);
    CU_ASSERT_FATAL(c >= 0);
    const char *req = "set a 0 0 1\r\nx\r\nget a\r\n";
    CU_ASSERT_EQUAL(write(c, req, strlen(req)), (ssize_t)strlen(req));
    read_reply(c, buf, sizeof(buf), "END\r\n");
    CU_ASSERT_STRING_EQUAL(buf, "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n");
    CU_ASSERT_TRUE(fx_has(&r.f, "a"));          /* one shared cache */
    CU_ASSERT_EQUAL(conn_quota_total(r.q), 1);

    /* a client's "verbosity" reaches the master over the control socket */
    CU_ASSERT_EQUAL(write(c, "verbosity 1\r\n", 13), 13);
    read_reply(c, buf, sizeof(buf), "\r\n");
    CU_ASSERT_STRING_EQUAL(buf, "OK\r\n");
    struct pollfd p = { r.ctl, POLLIN, 0 };
    CU_ASSERT_EQUAL(poll(&p, 1, WAIT_MS), 1);
    ssize_t n = recv(r.ctl, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    CU_ASSERT(n > 0);
    buf[n > 0 ? n : 0] = '\0';
    CU_ASSERT_STRING_EQUAL(buf, WORKER_MSG_VERBOSITY "1");

    /* SIGTERM: graceful, the idle client is closed, status 0 */
    CU_ASSERT_EQUAL(kill(r.pid, SIGTERM), 0);
    CU_ASSERT_TRUE(wait_eof(c));
    CU_ASSERT_EQUAL(wrig_wait(&r), WORKER_EXIT_OK);
    CU_ASSERT_TRUE(slot_was_freed(&r));
    CU_ASSERT_EQUAL(conn_quota_total(r.q), 0);  /* its unit given back */
    struct server_counters sum;
    struct proto_counters auth;
    srvstate_sum(r.state, &sum, &auth);
    CU_ASSERT_EQUAL(sum.curr_connections, 0);
    CU_ASSERT_EQUAL(sum.total_connections, 1);
    close(c);
    wrig_close(&r);
}

static void test_worker_connection_limit(void)
{
    struct wrig r;
    char buf[256];
    CU_ASSERT_FATAL(wrig_start(&r, 1, 0) == 0);
    int c1 = client(&r);
    CU_ASSERT_FATAL(c1 >= 0);
    CU_ASSERT_EQUAL(write(c1, "version\r\n", 9), 9);
    read_reply(c1, buf, sizeof(buf), "\r\n");
    CU_ASSERT_EQUAL(strncmp(buf, "VERSION ", 8), 0);
    int c2 = client(&r);                /* over -c 1 */
    CU_ASSERT_FATAL(c2 >= 0);
    read_reply(c2, buf, sizeof(buf), "\r\n");
    CU_ASSERT_STRING_EQUAL(buf, "ERROR Too many open connections\r\n");
    CU_ASSERT_TRUE(wait_eof(c2));
    struct server_counters sum;
    struct proto_counters auth;
    srvstate_sum(r.state, &sum, &auth);
    CU_ASSERT_EQUAL(sum.rejected_connections, 1);
    CU_ASSERT_EQUAL(conn_quota_total(r.q), 1);
    /* the first client is still served */
    CU_ASSERT_EQUAL(write(c1, "version\r\n", 9), 9);
    read_reply(c1, buf, sizeof(buf), "\r\n");
    CU_ASSERT_EQUAL(strncmp(buf, "VERSION ", 8), 0);

    /* SIGQUIT: immediate stop, status 0, slot and quota released */
    CU_ASSERT_EQUAL(kill(r.pid, SIGQUIT), 0);
    CU_ASSERT_EQUAL(wrig_wait(&r), WORKER_EXIT_OK);
    CU_ASSERT_TRUE(wait_eof(c1));
    CU_ASSERT_TRUE(slot_was_freed(&r));
    CU_ASSERT_EQUAL(conn_quota_total(r.q), 0);
    close(c1);
    close(c2);
    wrig_close(&r);
}

/* The master's end of the control socket closes: the worker stops. */
static void test_worker_master_gone(void)
{
    struct wrig r;
    char buf[256];
    CU_ASSERT_FATAL(wrig_start(&r, 100, 0) == 0);
    int c = client(&r);
    CU_ASSERT_FATAL(c >= 0);
    CU_ASSERT_EQUAL(write(c, "version\r\n", 9), 9);
    read_reply(c, buf, sizeof(buf), "\r\n");
    CU_ASSERT_EQUAL(strncmp(buf, "VERSION ", 8), 0);
    close(r.ctl);
    r.ctl = -1;
    CU_ASSERT_EQUAL(wrig_wait(&r), WORKER_EXIT_OK);
    CU_ASSERT_TRUE(wait_eof(c));
    CU_ASSERT_TRUE(slot_was_freed(&r));
    close(c);
    wrig_close(&r);
}

/* "handoff": the worker sends its client connection, with the pipelined
 * input it has not parsed, to the master, then exits. The descriptor the
 * master receives is that client's connection. */
static void test_worker_handoff(void)
{
    struct wrig r;
    char buf[256];
    CU_ASSERT_FATAL(wrig_start(&r, 100, 0) == 0);
    int c = client(&r);
    CU_ASSERT_FATAL(c >= 0);
    CU_ASSERT_EQUAL(write(c, "version\r\n", 9), 9);
    read_reply(c, buf, sizeof(buf), "\r\n");
    CU_ASSERT_EQUAL(strncmp(buf, "VERSION ", 8), 0);
    CU_ASSERT_EQUAL(send(r.ctl, WORKER_MSG_HANDOFF,
                         strlen(WORKER_MSG_HANDOFF), 0),
                    (ssize_t)strlen(WORKER_MSG_HANDOFF));
    struct pollfd p = { r.ctl, POLLIN, 0 };
    CU_ASSERT_EQUAL_FATAL(poll(&p, 1, WAIT_MS), 1);
    struct handoff_msg *m = NULL;
    CU_ASSERT_EQUAL_FATAL(handoff_recv(r.ctl, &m), 1);
    CU_ASSERT_TRUE(handoff_is_msg(m->data, m->len));
    struct handoff_hdr h;
    int fd = -1;
    char *payload = NULL;
    const char *in, *out;
    CU_ASSERT_EQUAL_FATAL(handoff_open(m, &h, &fd, &payload, &in, &out), 0);
    CU_ASSERT_EQUAL(h.in_len, 0);
    CU_ASSERT_EQUAL(h.out_len, 0);
    CU_ASSERT_EQUAL(strncmp(h.listen_addr, "tcp:127.0.0.1:", 14), 0);
    CU_ASSERT_EQUAL(wrig_wait(&r), WORKER_EXIT_OK);
    CU_ASSERT_TRUE(slot_was_freed(&r));
    /* the same client: what the master writes on fd, the client reads */
    CU_ASSERT_EQUAL(write(fd, "moved\r\n", 7), 7);
    read_reply(c, buf, sizeof(buf), "\r\n");
    CU_ASSERT_STRING_EQUAL(buf, "moved\r\n");
    free(payload);
    handoff_msg_free(m);
    close(fd);
    close(c);
    wrig_close(&r);
}

/* Started for a master that is not its parent (the master died before
 * the fork finished): the worker leaves at once, slot detached. */
static void test_worker_orphan_leaves(void)
{
    struct wrig r;
    CU_ASSERT_FATAL(wrig_start(&r, 100, 1) == 0);
    CU_ASSERT_EQUAL(wrig_wait(&r), WORKER_EXIT_OK);
    CU_ASSERT_TRUE(slot_was_freed(&r));
    wrig_close(&r);
}

UNIT_SUITE(worker, NULL, NULL,
           UNIT_TEST(test_worker_serves_and_stops),
           UNIT_TEST(test_worker_connection_limit),
           UNIT_TEST(test_worker_master_gone),
           UNIT_TEST(test_worker_handoff),
           UNIT_TEST(test_worker_orphan_leaves))
