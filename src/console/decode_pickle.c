/*
 * decode_pickle.c - reading a Python pickle (protocols 0 to 5) without
 * running it (see decode.h).
 *
 * A small stack machine interprets the opcodes that build data: numbers,
 * strings, bytes, None/True/False, lists, tuples, dicts, sets, the memo
 * (PUT/GET/MEMOIZE), marks, frames. Opcodes that would call code only
 * record what they name: GLOBAL/STACK_GLOBAL give {"__global": "mod.name"},
 * REDUCE/NEWOBJ/NEWOBJ_EX/INST/OBJ give {"__call": callable, "args": ...},
 * BUILD adds "state". Persistent ids, extension codes and out-of-band
 * buffers make the pickle undecodable (-1).
 *
 * Memory is bounded by the input: every opcode reads at least one byte and
 * creates at most one node, one stack entry and one memo entry, so the
 * arrays are sized n + 1; decoded text goes to a pool of n bytes (no
 * escape sequence is shorter than what it decodes to). Containers keep
 * their elements in a linked list of cells, so a memoized list that is
 * appended to later (the usual recursive pickle) stays one node. Output
 * walks the graph depth-first with DECODE_DEPTH_MAX and DECODE_OUT_MAX as
 * limits; a node met again on its own path shows as {"__cycle": true}.
 */
#include "console/decode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console/json.h"
#include "core/buf.h"

enum ntype {
    N_NONE, N_BOOL, N_INT, N_BIGINT, N_FLOAT, N_STR, N_BYTES, N_LIST,
    N_TUPLE, N_DICT, N_SET, N_GLOBAL, N_CALL, N_MARK,
};

struct node {
    enum ntype t;
    int onpath;
    union {
        long long i;
        double f;
        struct { const char *p; size_t n; } s;   /* STR, BYTES, GLOBAL,
                                                    BIGINT (raw LE bytes) */
        struct { int first, last; } c;           /* containers: cells */
    } u;
};

struct cell {
    int key, val;               /* node indexes (key: dicts only) */
    int next;
};

struct pk {
    const unsigned char *p, *end;
    struct node *nodes;
    int nn, nmax;
    struct cell *cells;
    int nc, cmax;
    int *stack;
    int sp, smax;
    int *memo;
    int nmemo;
    char *pool;
    size_t pool_used, pool_max;
};

static int new_node(struct pk *k, enum ntype t)
{
    if (k->nn >= k->nmax)
        return -1;
    memset(&k->nodes[k->nn], 0, sizeof(k->nodes[0]));
    k->nodes[k->nn].t = t;
    k->nodes[k->nn].u.c.first = k->nodes[k->nn].u.c.last = -1;
    return k->nn++;
}

static int push(struct pk *k, int node)
{
    if (node < 0 || k->sp >= k->smax)
        return -1;
    k->stack[k->sp++] = node;
    return 0;
}

static int pop(struct pk *k)
{
    return k->sp > 0 ? k->stack[--k->sp] : -1;
}

static int top(struct pk *k)
{
    return k->sp > 0 ? k->stack[k->sp - 1] : -1;
}

/* Appends (key, val) to container node c. */
static int add_cell(struct pk *k, int c, int key, int val)
{
    if (c < 0 || val < 0 || k->nc >= k->cmax)
        return -1;
    struct node *n = &k->nodes[c];
    if (n->t != N_LIST && n->t != N_DICT && n->t != N_SET &&
        n->t != N_TUPLE && n->t != N_CALL)
        return -1;
    struct cell *cl = &k->cells[k->nc];
    cl->key = key;
    cl->val = val;
    cl->next = -1;
    if (n->u.c.last >= 0)
        k->cells[n->u.c.last].next = k->nc;
    else
        n->u.c.first = k->nc;
    n->u.c.last = k->nc++;
    return 0;
}

/* Index in the stack of the topmost mark, or -1. */
static int find_mark(struct pk *k)
{
    for (int i = k->sp - 1; i >= 0; i--)
        if (k->nodes[k->stack[i]].t == N_MARK)
            return i;
    return -1;
}

/* Pops everything above the topmost mark (and the mark) into container
 * c, as items (pairs = 0) or key/value pairs (pairs = 1). */
static int collect(struct pk *k, int c, int pairs)
{
    int m = find_mark(k);
    if (m < 0 || (pairs && (k->sp - m - 1) % 2 != 0))
        return -1;
    for (int i = m + 1; i < k->sp; i += 1 + pairs)
        if (add_cell(k, c, pairs ? k->stack[i] : -1,
                     k->stack[i + pairs]) < 0)
            return -1;
    k->sp = m;
    return 0;
}

static int need(struct pk *k, size_t n)
{
    return (size_t)(k->end - k->p) >= n ? 0 : -1;
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* A node over len bytes of input (STR or BYTES). */
static int raw_node(struct pk *k, enum ntype t, size_t len)
{
    if (need(k, len) < 0)
        return -1;
    int n = new_node(k, t);
    if (n < 0)
        return -1;
    k->nodes[n].u.s.p = (const char *)k->p;
    k->nodes[n].u.s.n = len;
    k->p += len;
    return push(k, n);
}

/* Length-prefixed (lb bytes, little-endian) string or bytes. */
static int counted(struct pk *k, enum ntype t, int lb)
{
    if (need(k, (size_t)lb) < 0)
        return -1;
    uint64_t len = le(k->p, lb);
    k->p += lb;
    if (len > (uint64_t)(k->end - k->p))
        return -1;
    return raw_node(k, t, (size_t)len);
}

/* The text up to the next '\n' (protocol 0 arguments). */
static int line(struct pk *k, const char **s, size_t *n)
{
    const unsigned char *nl = memchr(k->p, '\n', (size_t)(k->end - k->p));
    if (nl == NULL)
        return -1;
    *s = (const char *)k->p;
    *n = (size_t)(nl - k->p);
    k->p = nl + 1;
    return 0;
}

static char *pool_take(struct pk *k, size_t n)
{
    if (k->pool_max - k->pool_used < n)
        return NULL;
    char *p = k->pool + k->pool_used;
    k->pool_used += n;
    return p;
}

static int hexd(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f'
           ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Code point cp as UTF-8 at d; returns the length. */
static size_t utf8_put(char *d, unsigned cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xe0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Protocol 0 UNICODE: raw-unicode-escape (\uXXXX, \UXXXXXXXX; other bytes
 * are Latin-1 code points). */
static int unicode0(struct pk *k)
{
    const char *s;
    size_t n, o = 0;
    if (line(k, &s, &n) < 0)
        return -1;
    char *d = pool_take(k, 2 * n);  /* Latin-1 bytes grow to 2 */
    int nd = new_node(k, N_STR);
    if (d == NULL || nd < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned cp = (unsigned char)s[i];
        int w = (s[i] == '\\' && i + 1 < n) ? (s[i + 1] == 'u' ? 4 :
                                               s[i + 1] == 'U' ? 8 : 0) : 0;
        if (w && i + 2 + (size_t)w <= n) {
            cp = 0;
            for (int j = 0; j < w; j++) {
                int h = hexd(s[i + 2 + j]);
                if (h < 0)
                    return -1;
                cp = cp * 16 + (unsigned)h;
            }
            if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                cp = 0xfffd;
            i += 1 + (size_t)w;
        }
        o += utf8_put(d + o, cp);
    }
    k->pool_used -= 2 * n - o;
    k->nodes[nd].u.s.p = d;
    k->nodes[nd].u.s.n = o;
    return push(k, nd);
}

/* Protocol 0 STRING: a Python repr, 'text' or "text" with \ escapes. */
static int string0(struct pk *k)
{
    const char *s;
    size_t n, o = 0;
    if (line(k, &s, &n) < 0 || n < 2 || (s[0] != '\'' && s[0] != '"') ||
        s[n - 1] != s[0])
        return -1;
    char *d = pool_take(k, n);
    int nd = new_node(k, N_BYTES);
    if (d == NULL || nd < 0)
        return -1;
    for (size_t i = 1; i + 1 < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 2 < n) {
            char e = s[++i];
            static const char from[] = "nrt\\'\"abfv0", to[] = "\n\r\t\\'\"\a\b\f\v";
            const char *f = strchr(from, e);
            if (e == 'x' && i + 2 < n && hexd(s[i + 1]) >= 0 &&
                hexd(s[i + 2]) >= 0) {
                c = (char)(hexd(s[i + 1]) * 16 + hexd(s[i + 2]));
                i += 2;
            } else if (f != NULL && e != '\0') {
                c = to[f - from];
            } else {
                return -1;
            }
        }
        d[o++] = c;
    }
    k->nodes[nd].u.s.p = d;
    k->nodes[nd].u.s.n = o;
    return push(k, nd);
}

/* Protocol 0 INT / LONG / FLOAT: decimal text. */
static int number0(struct pk *k, int op)
{
    const char *s;
    size_t n;
    char tmp[64];
    if (line(k, &s, &n) < 0 || n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (op == 'L' && tmp[n - 1] == 'L')
        tmp[n - 1] = '\0';
    char *end;
    int nd;
    if (op == 'F') {
        double f = strtod(tmp, &end);
        if (*end != '\0' || (nd = new_node(k, N_FLOAT)) < 0)
            return -1;
        k->nodes[nd].u.f = f;
    } else if (op == 'I' && (strcmp(tmp, "00") == 0 ||
                             strcmp(tmp, "01") == 0)) {
        if ((nd = new_node(k, N_BOOL)) < 0)
            return -1;
        k->nodes[nd].u.i = tmp[1] == '1';
    } else {
        long long x = strtoll(tmp, &end, 10);
        if (*end != '\0' || (nd = new_node(k, N_INT)) < 0)
            return -1;
        k->nodes[nd].u.i = x;
    }
    return push(k, nd);
}

static int int_node(struct pk *k, long long v)
{
    int nd = new_node(k, N_INT);
    if (nd < 0)
        return -1;
    k->nodes[nd].u.i = v;
    return push(k, nd);
}

/* LONG1 / LONG4: little-endian two's complement of nb bytes. */
static int long_bin(struct pk *k, int lb)
{
    if (need(k, (size_t)lb) < 0)
        return -1;
    uint64_t nb = le(k->p, lb);
    k->p += lb;
    if (nb > (uint64_t)(k->end - k->p))
        return -1;
    if (nb <= 8) {
        uint64_t v = le(k->p, (int)nb);
        if (nb > 0 && nb < 8 && (k->p[nb - 1] & 0x80))
            v |= ~0ull << (8 * nb);             /* sign extension */
        k->p += nb;
        return int_node(k, (long long)v);
    }
    return raw_node(k, N_BIGINT, (size_t)nb);
}

static int memo_put(struct pk *k, uint64_t idx)
{
    int t = top(k);
    if (t < 0 || idx >= (uint64_t)k->nmax)
        return -1;
    k->memo[idx] = t;
    if ((int)idx >= k->nmemo)
        k->nmemo = (int)idx + 1;
    return 0;
}

static int memo_get(struct pk *k, uint64_t idx)
{
    if (idx >= (uint64_t)k->nmemo || k->memo[idx] < 0)
        return -1;
    return push(k, k->memo[idx]);
}

/* GLOBAL: "module\nname\n". */
static int global0(struct pk *k)
{
    const char *m, *n;
    size_t ml, nl;
    if (line(k, &m, &ml) < 0 || line(k, &n, &nl) < 0)
        return -1;
    char *d = pool_take(k, ml + nl + 1);
    int nd = new_node(k, N_GLOBAL);
    if (d == NULL || nd < 0)
        return -1;
    memcpy(d, m, ml);
    d[ml] = '.';
    memcpy(d + ml + 1, n, nl);
    k->nodes[nd].u.s.p = d;
    k->nodes[nd].u.s.n = ml + nl + 1;
    return push(k, nd);
}

static int stack_global(struct pk *k)
{
    int name = pop(k), mod = pop(k);
    if (name < 0 || mod < 0 || k->nodes[name].t != N_STR ||
        k->nodes[mod].t != N_STR)
        return -1;
    size_t ml = k->nodes[mod].u.s.n, nl = k->nodes[name].u.s.n;
    char *d = pool_take(k, ml + nl + 1);
    int nd = new_node(k, N_GLOBAL);
    if (d == NULL || nd < 0)
        return -1;
    memcpy(d, k->nodes[mod].u.s.p, ml);
    d[ml] = '.';
    memcpy(d + ml + 1, k->nodes[name].u.s.p, nl);
    k->nodes[nd].u.s.p = d;
    k->nodes[nd].u.s.n = ml + nl + 1;
    return push(k, nd);
}

/* A call node: cells are the callable, then the arguments. */
static int call_node(struct pk *k, int callable, int args)
{
    int nd = new_node(k, N_CALL);
    if (nd < 0 || add_cell(k, nd, -1, callable) < 0 ||
        add_cell(k, nd, -1, args) < 0)
        return -1;
    return push(k, nd);
}

/* Container building and mutating opcodes. */
static int op_container(struct pk *k, int op)
{
    int nd, a, b, c;
    switch (op) {
    case ']': return push(k, new_node(k, N_LIST));
    case '}': return push(k, new_node(k, N_DICT));
    case ')': return push(k, new_node(k, N_TUPLE));
    case 0x8f: return push(k, new_node(k, N_SET));
    case 'l': case 't': case 'd': case 0x91:
        nd = new_node(k, op == 'l' ? N_LIST : op == 'd' ? N_DICT
                       : op == 't' ? N_TUPLE : N_SET);
        if (nd < 0 || collect(k, nd, op == 'd') < 0)
            return -1;
        return push(k, nd);
    case 0x85: case 0x86: case 0x87:
        nd = new_node(k, N_TUPLE);
        if (nd < 0 || k->sp < op - 0x84)
            return -1;
        for (int i = k->sp - (op - 0x84); i < k->sp; i++)
            if (add_cell(k, nd, -1, k->stack[i]) < 0)
                return -1;
        k->sp -= op - 0x84;
        return push(k, nd);
    case 'a':
        a = pop(k);
        return add_cell(k, top(k), -1, a);
    case 's':
        b = pop(k);
        a = pop(k);
        return a < 0 ? -1 : add_cell(k, top(k), a, b);
    case 'e': case 'u': case 0x90:
        c = find_mark(k);
        if (c < 1)
            return -1;
        return collect(k, k->stack[c - 1], op == 'u');
    }
    return -1;
}

/* Opcodes that would run code: described, never run. */
static int op_call(struct pk *k, int op)
{
    int a = -1, b, c, m;
    switch (op) {
    case 'c': return global0(k);
    case 0x93: return stack_global(k);
    case 'R': case 0x81:
        b = pop(k);
        a = pop(k);
        return a < 0 || b < 0 ? -1 : call_node(k, a, b);
    case 0x92:
        c = pop(k);
        b = pop(k);
        a = pop(k);
        return a < 0 || b < 0 || c < 0 ? -1 : call_node(k, a, b);
    case 'b':                   /* BUILD: the state joins the call node */
        b = pop(k);
        return add_cell(k, top(k), -2, b);
    case 'i':                   /* INST module\nname\n, args from the mark */
        if (global0(k) < 0)
            return -1;
        a = pop(k);
        /* fall through */
    case 'o':                   /* OBJ: mark, class, args... */
        m = find_mark(k);
        if (m < 0 || (op == 'o' && m + 1 >= k->sp))
            return -1;
        if (op == 'o')
            a = k->stack[m + 1];
        b = new_node(k, N_TUPLE);
        if (b < 0)
            return -1;
        for (int i = m + 1 + (op == 'o'); i < k->sp; i++)
            if (add_cell(k, b, -1, k->stack[i]) < 0)
                return -1;
        k->sp = m;
        return call_node(k, a, b);
    }
    return -1;
}

static int op_bytes(struct pk *k, int op)
{
    switch (op) {
    case 'X': return counted(k, N_STR, 4);
    case 0x8c: return counted(k, N_STR, 1);
    case 0x8d: return counted(k, N_STR, 8);
    case 'T': return counted(k, N_BYTES, 4);
    case 'U': return counted(k, N_BYTES, 1);
    case 'B': return counted(k, N_BYTES, 4);
    case 'C': return counted(k, N_BYTES, 1);
    case 0x8e: case 0x96: return counted(k, N_BYTES, 8);
    case 'V': return unicode0(k);
    case 'S': return string0(k);
    }
    return -1;
}

/* One opcode; 1 at STOP, 0 to go on, -1 to fail. */
static int step(struct pk *k)
{
    if (need(k, 1) < 0)
        return -1;
    int op = *k->p++, nd;
    switch (op) {
    case '.': return 1;
    case 0x80: return need(k, 1) < 0 || *k->p++ > 5 ? -1 : 0;
    case 0x95: return need(k, 8) < 0 ? -1 : (k->p += 8, 0);   /* FRAME */
    case '(': return push(k, new_node(k, N_MARK));
    case '0': return pop(k) < 0 ? -1 : 0;
    case '1': nd = find_mark(k); return nd < 0 ? -1 : (k->sp = nd, 0);
    case '2': return push(k, top(k));
    case 'N': return push(k, new_node(k, N_NONE));
    case 0x88: case 0x89:
        nd = new_node(k, N_BOOL);
        if (nd >= 0)
            k->nodes[nd].u.i = op == 0x88;
        return push(k, nd);
    case 'I': case 'L': case 'F': return number0(k, op);
    case 'J': return need(k, 4) < 0 ? -1
                     : (k->p += 4, int_node(k, (int32_t)le(k->p - 4, 4)));
    case 'K': return need(k, 1) < 0 ? -1 : int_node(k, *k->p++);
    case 'M': return need(k, 2) < 0 ? -1
                     : (k->p += 2, int_node(k, (long long)le(k->p - 2, 2)));
    case 0x8a: return long_bin(k, 1);
    case 0x8b: return long_bin(k, 4);
    case 'G': {
        if (need(k, 8) < 0 || (nd = new_node(k, N_FLOAT)) < 0)
            return -1;
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++)
            bits = (bits << 8) | k->p[i];       /* big-endian */
        memcpy(&k->nodes[nd].u.f, &bits, 8);
        k->p += 8;
        return push(k, nd);
    }
    case 'p': {
        const char *s;
        size_t n;
        return line(k, &s, &n) < 0 ? -1
               : memo_put(k, strtoull(s, NULL, 10));
    }
    case 'q': return need(k, 1) < 0 ? -1 : memo_put(k, *k->p++);
    case 'r': return need(k, 4) < 0 ? -1
                     : (k->p += 4, memo_put(k, le(k->p - 4, 4)));
    case 0x94: return memo_put(k, (uint64_t)k->nmemo);
    case 'g': {
        const char *s;
        size_t n;
        return line(k, &s, &n) < 0 ? -1
               : memo_get(k, strtoull(s, NULL, 10));
    }
    case 'h': return need(k, 1) < 0 ? -1 : memo_get(k, *k->p++);
    case 'j': return need(k, 4) < 0 ? -1
                     : (k->p += 4, memo_get(k, le(k->p - 4, 4)));
    case 'X': case 0x8c: case 0x8d: case 'T': case 'U': case 'B': case 'C':
    case 0x8e: case 0x96: case 'V': case 'S':
        return op_bytes(k, op);
    case 'c': case 0x93: case 'R': case 0x81: case 0x92: case 'b':
    case 'i': case 'o':
        return op_call(k, op);
    default:
        return op_container(k, op);
    }
}

/* ---- output ----------------------------------------------------------- */

struct emit {
    struct pk *k;
    struct buf *out;
    size_t limit;
};

static void text(struct emit *e, const struct node *n)
{
    if (n->t == N_STR || json_utf8_valid(n->u.s.p, n->u.s.n)) {
        json_str(e->out, n->u.s.p, n->u.s.n);
        return;
    }
    buf_appendz(e->out, "{\"__bytes\":");
    json_hex(e->out, n->u.s.p, n->u.s.n);
    buf_appendz(e->out, "}");
}

static int emit_node(struct emit *e, int id, int depth);

/* The cells of n from its first on, skipping BUILD states (key -2). */
static int emit_items(struct emit *e, const struct node *n, int depth,
                      int dict)
{
    int first = 1;
    for (int c = n->u.c.first; c >= 0; c = e->k->cells[c].next) {
        const struct cell *cl = &e->k->cells[c];
        if (cl->key == -2 || (dict && cl->key < 0))
            continue;
        if (!first)
            buf_append(e->out, ",", 1);
        first = 0;
        if (dict) {
            const struct node *kn = &e->k->nodes[cl->key];
            if (kn->t == N_STR || kn->t == N_BYTES) {
                json_str(e->out, kn->u.s.p, kn->u.s.n);
            } else {        /* a non-string key: its JSON, as a string */
                struct buf tmp;
                buf_init(&tmp);
                struct emit sub = { e->k, &tmp, DECODE_OUT_MAX };
                int rc = emit_node(&sub, cl->key, depth + 1);
                json_str(e->out, tmp.data ? tmp.data : "", tmp.len);
                buf_free(&tmp);
                if (rc < 0)
                    return -1;
            }
            buf_append(e->out, ":", 1);
        }
        if (emit_node(e, cl->val, depth + 1) < 0)
            return -1;
    }
    return 0;
}

/* Python 3 pickles bytes for protocols 0-2 as the call
 * _codecs.encode(<str>, "latin1"): shown as the bytes it stands for (the
 * code points of the text, each below 256). Returns 1 if n was that. */
static int emit_latin1(struct emit *e, const struct node *n)
{
    const struct pk *k = e->k;
    int c1 = n->u.c.first, c2 = c1 >= 0 ? k->cells[c1].next : -1;
    if (c2 < 0 || k->cells[c2].next >= 0)
        return 0;
    const struct node *fn = &k->nodes[k->cells[c1].val];
    const struct node *args = &k->nodes[k->cells[c2].val];
    if (fn->t != N_GLOBAL || fn->u.s.n != 14 ||
        memcmp(fn->u.s.p, "_codecs.encode", 14) != 0 || args->t != N_TUPLE)
        return 0;
    int a1 = args->u.c.first, a2 = a1 >= 0 ? k->cells[a1].next : -1;
    if (a2 < 0 || k->cells[a2].next >= 0)
        return 0;
    const struct node *str = &k->nodes[k->cells[a1].val];
    const struct node *enc = &k->nodes[k->cells[a2].val];
    if (str->t != N_STR || enc->t != N_STR ||
        !((enc->u.s.n == 6 && memcmp(enc->u.s.p, "latin1", 6) == 0) ||
          (enc->u.s.n == 7 && memcmp(enc->u.s.p, "latin-1", 7) == 0)))
        return 0;
    const unsigned char *p = (const unsigned char *)str->u.s.p;
    size_t n2 = str->u.s.n, o = 0;
    unsigned char *bytes = malloc(n2 + 1);
    if (bytes == NULL)
        return 0;
    for (size_t i = 0; i < n2; i++) {
        if (p[i] < 0x80) {
            bytes[o++] = p[i];
        } else if ((p[i] == 0xc2 || p[i] == 0xc3) && i + 1 < n2) {
            bytes[o++] = (unsigned char)(((p[i] & 3) << 6) | (p[i + 1] & 0x3f));
            i++;
        } else {
            free(bytes);
            return 0;               /* a code point above 255 */
        }
    }
    struct node b = { .t = N_BYTES };
    b.u.s.p = (const char *)bytes;
    b.u.s.n = o;
    text(e, &b);
    free(bytes);
    return 1;
}

/* A call: {"__call": callable, "args": args, "state": BUILD's state,
 * "items": what SETITEM(S) or APPEND(S) added to the result}. */
static int emit_call(struct emit *e, const struct node *n, int depth)
{
    if (emit_latin1(e, n))
        return 0;
    static const char *const names[] = { "{\"__call\":", ",\"args\":" };
    const struct pk *k = e->k;
    int i = 0, c, items = 0, dict = 0;
    for (c = n->u.c.first; c >= 0 && i < 2; c = k->cells[c].next, i++) {
        buf_appendz(e->out, names[i]);
        if (emit_node(e, k->cells[c].val, depth + 1) < 0)
            return -1;
    }
    int rest = c;
    for (c = rest; c >= 0; c = k->cells[c].next) {
        if (k->cells[c].key == -2) {
            buf_appendz(e->out, ",\"state\":");
            if (emit_node(e, k->cells[c].val, depth + 1) < 0)
                return -1;
        } else {
            items++;
            dict = k->cells[c].key >= 0;
        }
    }
    if (items > 0) {            /* the added items, as a dict or a list */
        struct node view = *n;
        view.u.c.first = rest;      /* emit_items skips the states */
        buf_appendz(e->out, dict ? ",\"items\":{" : ",\"items\":[");
        if (emit_items(e, &view, depth, dict) < 0)
            return -1;
        buf_appendz(e->out, dict ? "}" : "]");
    }
    return buf_append(e->out, "}", 1);
}

static int emit_node(struct emit *e, int id, int depth)
{
    if (id < 0 || depth > DECODE_DEPTH_MAX || e->out->len > e->limit)
        return -1;
    struct node *n = &e->k->nodes[id];
    if (n->onpath)
        return buf_appendz(e->out, "{\"__cycle\":true}");
    switch (n->t) {
    case N_NONE: return buf_appendz(e->out, "null");
    case N_BOOL: return buf_appendz(e->out, n->u.i ? "true" : "false");
    case N_INT: return buf_printf(e->out, "%lld", n->u.i);
    case N_FLOAT:
        if (n->u.f != n->u.f || n->u.f - n->u.f != 0)   /* nan, inf */
            return json_strz(e->out, n->u.f != n->u.f ? "nan"
                                     : n->u.f > 0 ? "inf" : "-inf");
        return buf_printf(e->out, "%.17g", n->u.f);
    case N_STR: case N_BYTES: text(e, n); return 0;
    case N_BIGINT:
        buf_appendz(e->out, "{\"__int_le\":");
        json_hex(e->out, n->u.s.p, n->u.s.n);
        return buf_appendz(e->out, "}");
    case N_GLOBAL:
        buf_appendz(e->out, "{\"__global\":");
        json_str(e->out, n->u.s.p, n->u.s.n);
        return buf_appendz(e->out, "}");
    case N_MARK: return -1;
    default: break;
    }
    n->onpath = 1;
    int rc;
    if (n->t == N_CALL) {
        rc = emit_call(e, n, depth);
    } else {
        int dict = n->t == N_DICT;
        if (n->t == N_SET)
            buf_appendz(e->out, "{\"__set\":");
        buf_append(e->out, dict ? "{" : "[", 1);
        rc = emit_items(e, n, depth, dict);
        buf_append(e->out, dict ? "}" : "]", 1);
        if (n->t == N_SET)
            buf_append(e->out, "}", 1);
    }
    n->onpath = 0;
    return rc;
}

int decode_pickle(const char *v, size_t n, struct buf *out)
{
    if (n < 2 || n > DECODE_IN_MAX)
        return -1;
    struct pk k;
    memset(&k, 0, sizeof(k));
    k.p = (const unsigned char *)v;
    k.end = k.p + n;
    k.nmax = k.cmax = k.smax = (int)n + 1;
    k.pool_max = 2 * n;
    k.nodes = malloc(sizeof(*k.nodes) * (size_t)k.nmax);
    k.cells = malloc(sizeof(*k.cells) * (size_t)k.cmax);
    k.stack = malloc(sizeof(*k.stack) * (size_t)k.smax);
    k.memo = malloc(sizeof(*k.memo) * (size_t)k.nmax);
    k.pool = malloc(k.pool_max);
    size_t mark = out->len;
    int rc = -1;
    if (k.nodes && k.cells && k.stack && k.memo && k.pool) {
        memset(k.memo, 0xff, sizeof(*k.memo) * (size_t)k.nmax);
        do
            rc = step(&k);
        while (rc == 0);
        if (rc == 1 && k.p == k.end && k.sp == 1) {
            struct emit e = { &k, out, mark + DECODE_OUT_MAX };
            rc = emit_node(&e, k.stack[0], 0) < 0 || out->len > e.limit
                     ? -1 : 0;
        } else {
            rc = -1;
        }
    }
    if (rc < 0)
        out->len = mark;
    free(k.nodes);
    free(k.cells);
    free(k.stack);
    free(k.memo);
    free(k.pool);
    return rc;
}
