/*
 * handoff.c - hand-off messages and their SCM_RIGHTS passage (see
 * handoff.h).
 *
 * Invariants: a descriptor received into a struct handoff_msg belongs to
 * that message until handoff_open() gives it to the caller or
 * handoff_msg_free() closes it; handoff_send() never closes the caller's
 * fd (SCM_RIGHTS duplicates it into the receiver), and closes the memfd it
 * created whatever happens. Nothing here logs: callers report errno.
 */
#include "server/handoff.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static void put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

int handoff_is_msg(const void *msg, size_t len)
{
    return len >= 4 && memcmp(msg, HANDOFF_MAGIC, 4) == 0;
}

size_t handoff_encode(void *buf, size_t cap, const struct handoff_hdr *h,
                      const void *in, const void *out)
{
    int inl = !(h->flags & HANDOFF_F_MEMFD);
    size_t total = HANDOFF_HDR_LEN;
    if (inl)
        total += (size_t)h->in_len + h->out_len;
    if (total > cap || (inl && total > HANDOFF_MSG_MAX))
        return 0;
    unsigned char *p = buf;
    memcpy(p, HANDOFF_MAGIC, 4);
    put32(p + 4, h->flags);
    put32(p + 8, h->in_len);
    put32(p + 12, h->out_len);
    memset(p + 16, 0, HANDOFF_ADDR_MAX);
    size_t al = strnlen(h->listen_addr, HANDOFF_ADDR_MAX - 1);
    memcpy(p + 16, h->listen_addr, al);
    if (inl) {
        if (h->in_len)
            memcpy(p + HANDOFF_HDR_LEN, in, h->in_len);
        if (h->out_len)
            memcpy(p + HANDOFF_HDR_LEN + h->in_len, out, h->out_len);
    }
    return total;
}

int handoff_decode(const void *msg, size_t len, struct handoff_hdr *h,
                   const char **in, const char **out)
{
    const unsigned char *p = msg;
    if (len < HANDOFF_HDR_LEN || !handoff_is_msg(msg, len))
        return -1;
    h->flags = get32(p + 4);
    h->in_len = get32(p + 8);
    h->out_len = get32(p + 12);
    memcpy(h->listen_addr, p + 16, HANDOFF_ADDR_MAX);
    h->listen_addr[HANDOFF_ADDR_MAX - 1] = '\0';
    if (h->flags & ~HANDOFF_F_MEMFD)
        return -1;
    if (h->flags & HANDOFF_F_MEMFD) {
        if (len != HANDOFF_HDR_LEN ||
            (uint64_t)h->in_len + h->out_len > HANDOFF_PAYLOAD_MAX)
            return -1;
        *in = *out = NULL;
        return 0;
    }
    if ((uint64_t)HANDOFF_HDR_LEN + h->in_len + h->out_len != len)
        return -1;
    *in = (const char *)p + HANDOFF_HDR_LEN;
    *out = *in + h->in_len;
    return 0;
}

static int send_fds(int sock, const void *data, size_t len, const int *fds,
                    int nfds)
{
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = { (void *)data, len };
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (nfds > 0) {
        memset(&u, 0, sizeof(u));
        mh.msg_control = u.buf;
        mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
    }
    for (;;) {
        ssize_t n = sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int handoff_send(int sock, int fd, const char *listen_addr,
                 const void *in, size_t in_len,
                 const void *out, size_t out_len)
{
    static char pkt[HANDOFF_MSG_MAX];
    struct handoff_hdr h;
    if (in_len + out_len > HANDOFF_PAYLOAD_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    memset(&h, 0, sizeof(h));
    h.in_len = (uint32_t)in_len;
    h.out_len = (uint32_t)out_len;
    if (listen_addr != NULL)
        snprintf(h.listen_addr, sizeof(h.listen_addr), "%s", listen_addr);
    int fds[2] = { fd, -1 };
    if (in_len + out_len > HANDOFF_INLINE_MAX) {
        h.flags = HANDOFF_F_MEMFD;
        fds[1] = memfd_create("shmcached-handoff", MFD_CLOEXEC);
        if (fds[1] < 0)
            return -1;
        if (write_all(fds[1], in, in_len) < 0 ||
            write_all(fds[1], out, out_len) < 0) {
            int saved = errno;
            close(fds[1]);
            errno = saved;
            return -1;
        }
    }
    size_t len = handoff_encode(pkt, sizeof(pkt), &h, in, out);
    int rc = len == 0 ? (errno = EMSGSIZE, -1)
                      : send_fds(sock, pkt, len, fds, fds[1] >= 0 ? 2 : 1);
    if (fds[1] >= 0) {
        int saved = errno;
        close(fds[1]);
        errno = saved;
    }
    return rc;
}

int handoff_recv(int sock, struct handoff_msg **msg)
{
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct handoff_msg *m = malloc(sizeof(*m) + HANDOFF_MSG_MAX);
    if (m == NULL)
        return -1;
    struct iovec iov = { m->data, HANDOFF_MSG_MAX };
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof(u.buf);
    ssize_t n;
    do {
        n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        int eagain = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        if (n == 0)
            errno = 0;
        free(m);
        return eagain ? 0 : -1;
    }
    struct handoff_msg *small = realloc(m, sizeof(*m) + (size_t)n);
    if (small != NULL)
        m = small;              /* queued messages keep only their bytes */
    m->next = NULL;
    m->len = (size_t)n;
    m->fds[0] = m->fds[1] = -1;
    m->nfds = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm != NULL;
         cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (m->nfds < 2)
                m->fds[m->nfds++] = fd;
            else
                close(fd);      /* more than a hand-off carries */
        }
    }
    if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        handoff_msg_free(m);
        errno = EMSGSIZE;
        return -1;
    }
    *msg = m;
    return 1;
}

int handoff_forward(int sock, const struct handoff_msg *msg)
{
    return send_fds(sock, msg->data, msg->len, msg->fds, msg->nfds);
}

void handoff_msg_free(struct handoff_msg *msg)
{
    if (msg == NULL)
        return;
    for (int i = 0; i < msg->nfds; i++)
        if (msg->fds[i] >= 0)
            close(msg->fds[i]);
    free(msg);
}

int handoff_open(struct handoff_msg *msg, struct handoff_hdr *h, int *fd,
                 char **payload, const char **in, const char **out)
{
    const char *pin, *pout;
    *payload = NULL;
    if (handoff_decode(msg->data, msg->len, h, &pin, &pout) < 0 ||
        msg->nfds < 1 ||
        ((h->flags & HANDOFF_F_MEMFD) && msg->nfds < 2)) {
        errno = EPROTO;
        return -1;
    }
    size_t total = (size_t)h->in_len + h->out_len;
    if (total > 0) {
        *payload = malloc(total);
        if (*payload == NULL)
            return -1;
        if (h->flags & HANDOFF_F_MEMFD) {
            size_t got = 0;
            while (got < total) {
                ssize_t r = pread(msg->fds[1], *payload + got, total - got,
                                  (off_t)got);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0) {
                    if (r == 0)
                        errno = EPROTO;
                    free(*payload);
                    *payload = NULL;
                    return -1;
                }
                got += (size_t)r;
            }
        } else {
            memcpy(*payload, pin, h->in_len);
            memcpy(*payload + h->in_len, pout, h->out_len);
        }
    }
    *in = *payload;
    *out = *payload ? *payload + h->in_len : NULL;
    *fd = msg->fds[0];
    msg->fds[0] = -1;           /* the caller's now */
    return 0;
}

void handoff_queue_push(struct handoff_queue *q, struct handoff_msg *m)
{
    m->next = NULL;
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    q->count++;
}

struct handoff_msg *handoff_queue_pop(struct handoff_queue *q)
{
    struct handoff_msg *m = q->head;
    if (m == NULL)
        return NULL;
    q->head = m->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->count--;
    m->next = NULL;
    return m;
}

void handoff_queue_clear(struct handoff_queue *q)
{
    struct handoff_msg *m;
    while ((m = handoff_queue_pop(q)) != NULL)
        handoff_msg_free(m);
}

void handoff_queue_close_fds(const struct handoff_queue *q)
{
    for (const struct handoff_msg *m = q->head; m != NULL; m = m->next)
        for (int i = 0; i < m->nfds; i++)
            if (m->fds[i] >= 0)
                close(m->fds[i]);
}
