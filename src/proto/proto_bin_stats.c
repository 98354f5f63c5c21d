/*
 * proto_bin_stats.c - the binary protocol's stat command.
 *
 * Design. The figures come from the text protocol's stats code
 * (proto_stats(), the one place that knows memcached's names, order and
 * formats): the stat key is mapped to the text subcommand memcached's
 * binary protocol would run, the text reply is produced into a scratch
 * buffer, and each "STAT <name> <value>" line becomes a response packet
 * (key = name, value = figure); an empty packet ends the list. So text
 * and binary clients always see the same statistics.
 *
 * Which keys memcached 1.6 answers in binary: none (general stats),
 * "reset*", "settings*", "detail on|off|dump" (prefix matches, as its
 * strncmp), and exactly "items", "slabs", "sizes", "sizes_enable",
 * "sizes_disable". shmcached adds exactly "shmcached" (its own lines, as
 * the text "stats shmcached"). Anything else, including "conns" and
 * "cachedump", is "Not found". "detail dump" returns one packet "detailed" whose value
 * is the whole text dump (END line included), as memcached does.
 */
#include "proto/proto_bin.h"

#include <string.h>

#include "proto/proto_stats.h"
#include "proto/proto_text.h"

static int prefix(const char *key, size_t nkey, const char *lit)
{
    size_t n = strlen(lit);
    return nkey >= n && memcmp(key, lit, n) == 0;
}

static int exact(const char *key, size_t nkey, const char *lit)
{
    return nkey == strlen(lit) && memcmp(key, lit, nkey) == 0;
}

static void set_tok(struct request *r, const char *p)
{
    r->tok[r->ntok].p = p;
    r->tok[r->ntok].len = strlen(p);
    r->ntok++;
}

static int stat_packet(struct buf *out, uint8_t opcode, uint32_t opaque,
                       const char *k, size_t nk, const char *v, size_t nv)
{
    return proto_bin_header(out, opcode, BIN_OK, 0, (uint16_t)nk,
                            (uint32_t)(nk + nv), opaque, 0) ||
           (nk && buf_append(out, k, nk)) ||
           (nv && buf_append(out, v, nv)) ? -1 : 0;
}

/* Every "STAT name value\r\n" line of text[0..n) as a packet. */
static int convert(struct buf *out, uint8_t opcode, uint32_t opaque,
                   const char *text, size_t n)
{
    const char *p = text, *end = text + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        if (le > p && le[-1] == '\r')
            le--;
        if (le - p > 5 && memcmp(p, "STAT ", 5) == 0) {
            const char *k = p + 5;
            const char *sp = memchr(k, ' ', (size_t)(le - k));
            const char *v = sp ? sp + 1 : le;
            size_t nk = (size_t)((sp ? sp : le) - k);
            if (stat_packet(out, opcode, opaque, k, nk, v,
                            (size_t)(le - v)) < 0)
                return -1;
        }
        p = next;
    }
    return 0;
}

int proto_bin_stats(const struct proto_env *env, const char *key,
                    size_t nkey, uint8_t opcode, uint32_t opaque,
                    struct buf *out)
{
    struct request r;
    struct buf text;
    int dump = 0, err;

    memset(&r, 0, sizeof r);
    set_tok(&r, "stats");
    if (nkey == 0) {
        /* general stats */
    } else if (prefix(key, nkey, "reset")) {
        set_tok(&r, "reset");
    } else if (prefix(key, nkey, "settings")) {
        set_tok(&r, "settings");
    } else if (prefix(key, nkey, "detail")) {
        set_tok(&r, "detail");
        if (prefix(key + 6, nkey - 6, " dump")) {
            set_tok(&r, "dump");
            dump = 1;
        } else if (prefix(key + 6, nkey - 6, " on")) {
            set_tok(&r, "on");
        } else if (prefix(key + 6, nkey - 6, " off")) {
            set_tok(&r, "off");
        } else {
            r.ntok = 0;
        }
    } else if (exact(key, nkey, "items") || exact(key, nkey, "slabs") ||
               exact(key, nkey, "sizes") ||
               exact(key, nkey, "sizes_enable") ||
               exact(key, nkey, "sizes_disable") ||
               exact(key, nkey, "shmcached")) {
        r.tok[1].p = key;
        r.tok[1].len = nkey;
        r.ntok = 2;
    } else {
        r.ntok = 0;
    }
    if (r.ntok == 0) {
        static const char nf[] = "Not found";
        return proto_bin_header(out, opcode, BIN_KEY_ENOENT, 0, 0,
                                sizeof nf - 1, opaque, 0) ||
               buf_append(out, nf, sizeof nf - 1) ? -1 : 0;
    }

    buf_init(&text);
    err = proto_stats(env, &r, &text);
    if (err == 0 && dump)
        err = stat_packet(out, opcode, opaque, "detailed", 8, text.data,
                          text.len);
    else if (err == 0)
        err = convert(out, opcode, opaque, text.data, text.len);
    buf_free(&text);
    if (err == 0)
        err = stat_packet(out, opcode, opaque, NULL, 0, NULL, 0);
    return err;
}
