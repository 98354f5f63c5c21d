/*
 * loadgen.c - the benchmark's load generator (a test tool, built for
 * `make bench` only): memcached text protocol over N TCP connections to
 * 127.0.0.1, each holding exactly DEPTH requests in flight, a fixed
 * get/set mix, and a latency histogram.
 *
 * Usage: loadgen -p PORT [-c CONNS] [-d DEPTH] [-t SECONDS | -n REQUESTS]
 *                [-g GET_PERCENT] [-v VALUE_BYTES] [-k KEYS] [-s SEED]
 *                [--prefill]
 *   -c 50 -d 1 -t 5 -g 90 -v 100 -k 10000 by default.
 *   --prefill: sets every key 0..KEYS-1 once (in order, pipelined), so the
 *   gets of the runs that follow all hit; ignores -t/-n/-g.
 *
 * How it works: one thread, one epoll set (level-triggered, EPOLLIN only;
 * EPOLLOUT is added only while a connection's requests do not fit in the
 * socket). A connection starts with DEPTH requests; every reply that
 * completes sends the next request at once (the requests made while a
 * read's replies are parsed go out in one writev), so each connection has
 * DEPTH requests in flight from start to end. Which request comes next is
 * decided by a per-connection xorshift generator seeded with the
 * connection's number and -s: the same command line makes the same mix.
 * Keys are "key:%08u" drawn uniformly from 0..KEYS-1; values are VALUE
 * bytes of 'x'.
 *
 * Replies are parsed as a stream (a value's bytes are skipped, never
 * stored), so 64 KB values cost the client no copy. The latency of a
 * request is from just before the write that carried it to the read that
 * completed its reply (CLOCK_MONOTONIC), recorded in a log-linear
 * histogram (32 steps per power of two: values are within 3 %).
 *
 * Output: one line of key=value pairs on stdout:
 *   requests gets sets hits misses errors seconds ops_s p50_us p90_us
 *   p99_us p999_us max_us
 * Exit status 0, or 1 (usage, connect failure, a connection lost, replies
 * that do not parse, or a reply missing after the 10 s drain).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define HIST_SUB 32                 /* steps per power of two */
#define HIST_N (64 * HIST_SUB)
#define RBUF (256 * 1024)
#define HDR_MAX 64                  /* "set key:00000000 0 0 1048576\r\n" */
#define DRAIN_SECONDS 10.0

struct opts {
    int port, conns, depth, get_pct, prefill;
    unsigned keys, value;
    double seconds;
    uint64_t requests;              /* 0: run for `seconds` */
    uint64_t seed;
};

enum req_kind { REQ_GET, REQ_SET };

struct conn {
    int fd;
    uint64_t rng;
    /* requests in flight, oldest first (a ring of depth entries) */
    unsigned char *kind;
    uint64_t *sent_ns;
    int head, inflight;
    /* the reply being parsed */
    uint64_t skip;                  /* value bytes (+ CRLF) still to skip */
    int got_value;
    char *rbuf;
    size_t rlen;                    /* bytes of an unfinished line kept */
    /* requests made but not yet written */
    struct iovec *iov;
    int niov, iov_first;
    char *hdr;                      /* HDR_MAX bytes per request slot */
    int hdr_slot;
    int want_out;                   /* EPOLLOUT registered */
};

struct gen {
    struct opts o;
    int ep;
    struct conn *c;
    const char *value;              /* value bytes followed by "\r\n" */
    uint64_t issued, done, gets, sets, hits, misses, errors;
    uint64_t next_key;              /* --prefill: keys in order */
    uint64_t done_at_stop;          /* replies when the time ran out */
    int stop_issuing;
    uint64_t hist[HIST_N];
    uint64_t max_ns;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static int hist_index(uint64_t v)
{
    if (v < HIST_SUB)
        return (int)v;
    int e = 63 - __builtin_clzll(v);            /* e >= 5 */
    return (e - 4) * HIST_SUB + (int)((v >> (e - 5)) & (HIST_SUB - 1));
}

/* The middle of bucket i, in ns. */
static double hist_value(int i)
{
    if (i < HIST_SUB)
        return i;
    int e = i / HIST_SUB + 4, sub = i % HIST_SUB;
    double lo = (double)((uint64_t)(HIST_SUB + sub) << (e - 5));
    return lo + (double)((uint64_t)1 << (e - 5)) / 2;
}

static double percentile(const struct gen *g, double p)
{
    uint64_t total = 0, seen = 0;
    for (int i = 0; i < HIST_N; i++)
        total += g->hist[i];
    if (total == 0)
        return 0;
    uint64_t want = (uint64_t)(p / 100.0 * (double)total);
    if (want >= total)
        want = total - 1;
    for (int i = 0; i < HIST_N; i++) {
        seen += g->hist[i];
        if (seen > want)
            return hist_value(i);
    }
    return 0;
}

/* Queues the connection's next request (written by flush()). */
static void issue(struct gen *g, struct conn *c)
{
    unsigned key;
    int kind;
    if (g->o.prefill) {
        key = (unsigned)g->next_key++;
        kind = REQ_SET;
    } else {
        uint64_t r = xorshift(&c->rng);
        key = (unsigned)((r >> 8) % g->o.keys);
        kind = (int)(r % 100) < g->o.get_pct ? REQ_GET : REQ_SET;
    }
    char *h = c->hdr + (size_t)c->hdr_slot * HDR_MAX;
    c->hdr_slot = (c->hdr_slot + 1) % g->o.depth;
    int n;
    if (kind == REQ_GET) {
        n = snprintf(h, HDR_MAX, "get key:%08u\r\n", key);
        c->iov[c->niov++] = (struct iovec){ h, (size_t)n };
        g->gets++;
    } else {
        n = snprintf(h, HDR_MAX, "set key:%08u 0 0 %u\r\n", key, g->o.value);
        c->iov[c->niov++] = (struct iovec){ h, (size_t)n };
        c->iov[c->niov++] = (struct iovec){ (void *)g->value,
                                            (size_t)g->o.value + 2 };
        g->sets++;
    }
    int slot = (c->head + c->inflight) % g->o.depth;
    c->kind[slot] = (unsigned char)kind;
    c->sent_ns[slot] = 0;           /* stamped when written */
    c->inflight++;
    g->issued++;
}

static int more_to_issue(const struct gen *g)
{
    if (g->stop_issuing)
        return 0;
    if (g->o.prefill)
        return g->next_key < g->o.keys;
    return g->o.requests == 0 || g->issued < g->o.requests;
}

static int set_out(struct gen *g, struct conn *c, int on)
{
    if (c->want_out == on)
        return 0;
    struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
                              .data.ptr = c };
    c->want_out = on;
    return epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes the queued requests; stamps the ones that went whole. */
static int flush(struct gen *g, struct conn *c)
{
    while (c->iov_first < c->niov) {
        uint64_t t = now_ns();
        ssize_t n = writev(c->fd, c->iov + c->iov_first,
                           c->niov - c->iov_first > IOV_MAX
                           ? IOV_MAX : c->niov - c->iov_first);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return set_out(g, c, 1);
        if (n < 0) {
            perror("loadgen: writev");
            return -1;
        }
        while (n > 0) {
            struct iovec *v = &c->iov[c->iov_first];
            size_t k = (size_t)n < v->iov_len ? (size_t)n : v->iov_len;
            v->iov_base = (char *)v->iov_base + k;
            v->iov_len -= k;
            n -= (ssize_t)k;
            if (v->iov_len == 0)
                c->iov_first++;
        }
        /* every request not yet stamped whose bytes are out (a latency
         * counts from the write that carried its first bytes) */
        for (int i = 0; i < c->inflight; i++) {
            int s = (c->head + i) % g->o.depth;
            if (c->sent_ns[s] == 0)
                c->sent_ns[s] = t;
        }
    }
    c->niov = c->iov_first = 0;
    return set_out(g, c, 0);
}

static void complete(struct gen *g, struct conn *c, int ok, uint64_t t)
{
    int s = c->head;
    uint64_t lat = t - c->sent_ns[s];
    if (c->kind[s] == REQ_GET) {
        if (c->got_value)
            g->hits++;
        else if (ok)
            g->misses++;
    }
    if (!ok)
        g->errors++;
    g->hist[hist_index(lat)]++;
    if (lat > g->max_ns)
        g->max_ns = lat;
    c->head = (c->head + 1) % g->o.depth;
    c->inflight--;
    c->got_value = 0;
    g->done++;
    if (more_to_issue(g))
        issue(g, c);
}

/* One reply line (without CRLF). Returns 0, or -1 when it does not parse. */
static int reply_line(struct gen *g, struct conn *c, const char *l, size_t n,
                      uint64_t t)
{
    if (c->inflight == 0)
        return -1;
    int kind = c->kind[c->head];
    if (kind == REQ_GET && n > 6 && memcmp(l, "VALUE ", 6) == 0) {
        const char *p = memrchr(l, ' ', n);
        if (p == NULL)
            return -1;
        c->skip = strtoull(p + 1, NULL, 10) + 2;
        c->got_value = 1;
        return 0;
    }
    if (kind == REQ_GET && n == 3 && memcmp(l, "END", 3) == 0)
        complete(g, c, 1, t);
    else if (kind == REQ_SET && n == 6 && memcmp(l, "STORED", 6) == 0)
        complete(g, c, 1, t);
    else if (n >= 5 && (memcmp(l, "ERROR", 5) == 0 ||
                        memcmp(l, "SERVER_ERROR", n < 12 ? n : 12) == 0 ||
                        memcmp(l, "CLIENT_ERROR", n < 12 ? n : 12) == 0 ||
                        memcmp(l, "NOT_STORED", n < 10 ? n : 10) == 0))
        complete(g, c, 0, t);
    else
        return -1;
    return 0;
}

/* Parses c->rbuf[0..len): skips value bytes, handles whole lines, keeps
 * an unfinished line at the start of rbuf. Returns 0 or -1. */
static int parse(struct gen *g, struct conn *c, size_t len, uint64_t t)
{
    size_t off = 0;
    while (off < len) {
        if (c->skip > 0) {
            size_t k = len - off < c->skip ? len - off : (size_t)c->skip;
            off += k;
            c->skip -= k;
            continue;
        }
        const char *e = memchr(c->rbuf + off, '\n', len - off);
        if (e == NULL)
            break;
        size_t n = (size_t)(e - (c->rbuf + off));
        if (n == 0 || c->rbuf[off + n - 1] != '\r' ||
            reply_line(g, c, c->rbuf + off, n - 1, t) < 0) {
            fprintf(stderr, "loadgen: unexpected reply: %.*s\n",
                    (int)(n < 80 ? n : 80), c->rbuf + off);
            return -1;
        }
        off += n + 1;
    }
    c->rlen = len - off;
    if (c->rlen > 0)
        memmove(c->rbuf, c->rbuf + off, c->rlen);
    if (c->rlen == RBUF) {
        fprintf(stderr, "loadgen: reply line too long\n");
        return -1;
    }
    return 0;
}

static int on_readable(struct gen *g, struct conn *c)
{
    ssize_t n = read(c->fd, c->rbuf + c->rlen, RBUF - c->rlen);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        fprintf(stderr, "loadgen: connection %s\n",
                n == 0 ? "closed by the server" : strerror(errno));
        return -1;
    }
    if (parse(g, c, c->rlen + (size_t)n, now_ns()) < 0)
        return -1;
    return c->niov > 0 ? flush(g, c) : 0;
}

static int conn_open(struct gen *g, struct conn *c, int idx)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t)g->o.port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int d = g->o.depth;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("loadgen: connect");
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0) {
        perror("loadgen: fcntl");
        return -1;
    }
    c->rng = (g->o.seed + 1) * 0x9e3779b97f4a7c15ull + (uint64_t)idx * 7919 + 1;
    c->kind = calloc((size_t)d, 1);
    c->sent_ns = calloc((size_t)d, sizeof(*c->sent_ns));
    c->iov = calloc((size_t)d * 2, sizeof(*c->iov));
    c->hdr = malloc((size_t)d * HDR_MAX);
    c->rbuf = malloc(RBUF);
    if (!c->kind || !c->sent_ns || !c->iov || !c->hdr || !c->rbuf) {
        fprintf(stderr, "loadgen: out of memory\n");
        return -1;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    if (epoll_ctl(g->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        perror("loadgen: epoll_ctl");
        return -1;
    }
    return 0;
}

/* Runs until the time or the request count is reached, then waits (at
 * most DRAIN_SECONDS) for the replies in flight. Returns 0 or -1. */
static int run(struct gen *g, double *secs)
{
    struct epoll_event evs[256];
    uint64_t t0 = now_ns();
    uint64_t end = g->o.requests || g->o.prefill ? UINT64_MAX
                   : t0 + (uint64_t)(g->o.seconds * 1e9);
    uint64_t drain_end = 0;
    for (int i = 0; i < g->o.conns; i++) {
        for (int k = 0; k < g->o.depth && more_to_issue(g); k++)
            issue(g, &g->c[i]);
        if (flush(g, &g->c[i]) < 0)
            return -1;
    }
    while (g->done < g->issued) {
        int n = epoll_wait(g->ep, evs, 256, 100);
        if (n < 0 && errno != EINTR) {
            perror("loadgen: epoll_wait");
            return -1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if ((evs[i].events & EPOLLOUT) && flush(g, c) < 0)
                return -1;
            if ((evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
                on_readable(g, c) < 0)
                return -1;
        }
        uint64_t t = now_ns();
        if (!g->stop_issuing && t >= end) {
            g->stop_issuing = 1;
            *secs = (double)(t - t0) / 1e9;
            g->done_at_stop = g->done;
            drain_end = t + (uint64_t)(DRAIN_SECONDS * 1e9);
        }
        if (drain_end && t >= drain_end) {
            fprintf(stderr, "loadgen: %llu replies missing after %.0f s\n",
                    (unsigned long long)(g->issued - g->done), DRAIN_SECONDS);
            return -1;
        }
    }
    if (!g->stop_issuing) {
        *secs = (double)(now_ns() - t0) / 1e9;
        g->done_at_stop = g->done;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen -p PORT [-c CONNS] [-d DEPTH] "
            "[-t SECONDS | -n REQUESTS] [-g GET_PERCENT] [-v VALUE_BYTES] "
            "[-k KEYS] [-s SEED] [--prefill]\n");
}

static int parse_opts(struct opts *o, int argc, char **argv)
{
    static const struct option lo[] = { { "prefill", no_argument, NULL, 'P' },
                                        { NULL, 0, NULL, 0 } };
    *o = (struct opts){ .conns = 50, .depth = 1, .get_pct = 90, .keys = 10000,
                        .value = 100, .seconds = 5 };
    int ch;
    while ((ch = getopt_long(argc, argv, "p:c:d:t:n:g:v:k:s:", lo, NULL)) != -1) {
        switch (ch) {
        case 'p': o->port = atoi(optarg); break;
        case 'c': o->conns = atoi(optarg); break;
        case 'd': o->depth = atoi(optarg); break;
        case 't': o->seconds = atof(optarg); break;
        case 'n': o->requests = strtoull(optarg, NULL, 10); break;
        case 'g': o->get_pct = atoi(optarg); break;
        case 'v': o->value = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'k': o->keys = (unsigned)strtoul(optarg, NULL, 10); break;
        case 's': o->seed = strtoull(optarg, NULL, 10); break;
        case 'P': o->prefill = 1; break;
        default: return -1;
        }
    }
    if (o->port <= 0 || o->conns <= 0 || o->depth <= 0 || o->depth > 4096 ||
        o->keys == 0 || o->get_pct < 0 || o->get_pct > 100 ||
        o->value > (1u << 20) || o->seconds <= 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    static struct gen g;
    if (parse_opts(&g.o, argc, argv) < 0) {
        usage();
        return 1;
    }
    char *v = malloc((size_t)g.o.value + 2);
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    g.c = calloc((size_t)g.o.conns, sizeof(*g.c));
    if (v == NULL || g.c == NULL || g.ep < 0) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }
    memset(v, 'x', g.o.value);
    memcpy(v + g.o.value, "\r\n", 2);
    g.value = v;
    for (int i = 0; i < g.o.conns; i++)
        if (conn_open(&g, &g.c[i], i) < 0)
            return 1;
    double secs = 0;
    int rc = run(&g, &secs);
    printf("requests=%llu gets=%llu sets=%llu hits=%llu misses=%llu "
           "errors=%llu seconds=%.3f ops_s=%.0f p50_us=%.1f p90_us=%.1f "
           "p99_us=%.1f p999_us=%.1f max_us=%.1f\n",
           (unsigned long long)g.done, (unsigned long long)g.gets,
           (unsigned long long)g.sets, (unsigned long long)g.hits,
           (unsigned long long)g.misses, (unsigned long long)g.errors, secs,
           secs > 0 ? (double)g.done_at_stop / secs : 0.0,
           percentile(&g, 50) / 1e3, percentile(&g, 90) / 1e3,
           percentile(&g, 99) / 1e3, percentile(&g, 99.9) / 1e3,
           (double)g.max_ns / 1e3);
    return rc < 0 || g.errors > 0 ? 1 : 0;
}
