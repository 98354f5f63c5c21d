/*
 * fuzz_settings.c - libFuzzer target: the configuration parser
 * (settings_parse_args, settings_parse_file, settings_validate).
 *
 * Input format: command-line arguments separated by NUL bytes, then an
 * empty argument (two NULs in a row), then the text of a config file. An
 * input without "\0\0" is all config file. The file is given to
 * settings_parse_file() as /proc/self/fd/N of a memfd, so nothing touches
 * the disk. Each run: defaults, the file, then the arguments over it (the
 * order settings_load() uses), then settings_validate() on the result.
 *
 * Checked besides the sanitizers: every call returns one of its documented
 * values, an error always comes with a NUL-terminated, non-empty message
 * that fits its buffer, and a settings struct that settings_validate()
 * accepted has every string field NUL-terminated and its counts in range.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "server/settings.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "\nfuzz settings: %s: %s\n", what, detail);
    abort();
}

/* rc must lie in -1..max_ok; err must be terminated, and hold a message
 * when rc is -1. */
static void check_rc(const char *call, int rc, int max_ok, const char *err,
                     size_t errlen)
{
    if (rc < -1 || rc > max_ok)
        fail(call, "returned a value it does not document");
    if (memchr(err, '\0', errlen) == NULL)
        fail(call, "error message not terminated");
    if (rc == -1 && err[0] == '\0')
        fail(call, "failed without a message");
}

static void check_terminated(const char *field, const char *s, size_t len)
{
    if (memchr(s, '\0', len) == NULL)
        fail("settings field not NUL-terminated", field);
}

static void check_valid(const struct settings *s)
{
    check_terminated("socketpath", s->socketpath, sizeof(s->socketpath));
    check_terminated("username", s->username, sizeof(s->username));
    check_terminated("pidfile", s->pidfile, sizeof(s->pidfile));
    check_terminated("config_file", s->config_file, sizeof(s->config_file));
    if (s->nlisten < 0 || s->nlisten > SETTINGS_MAX_LISTEN)
        fail("validated settings", "nlisten out of range");
    for (int i = 0; i < s->nlisten; i++)
        check_terminated("listen[]", s->listen[i], sizeof(s->listen[i]));
}

/* Splits data[0..size) into argv (NUL separated) and the file text. */
static int split(const uint8_t *data, size_t size, char *buf, char **argv,
                 const char **file, size_t *flen)
{
    const uint8_t *sep = memmem(data, size, "\0\0", 2);
    int argc = 0;
    argv[argc++] = "shmcached";
    *file = (const char *)data;
    *flen = size;
    if (sep == NULL)
        return argc;
    size_t alen = (size_t)(sep - data);
    memcpy(buf, data, alen);
    buf[alen] = '\0';
    for (size_t at = 0; at <= alen && argc < MAX_ARGS;) {
        argv[argc++] = buf + at;
        at += strlen(buf + at) + 1;
    }
    argv[argc] = NULL;
    *file = (const char *)sep + 2;
    *flen = size - alen - 2;
    return argc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    char *buf = malloc(size + 1);
    char *argv[MAX_ARGS + 1] = { 0 };
    const char *file;
    size_t flen;
    char err[256], path[64];
    struct settings s;

    if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
        fail("fopen", "/dev/null");
    if (buf == NULL)
        fail("malloc", "input copy");
    int argc = split(data, size, buf, argv, &file, &flen);

    int fd = memfd_create("fuzz-config", MFD_CLOEXEC);
    if (fd < 0 || (flen > 0 && write(fd, file, flen) != (ssize_t)flen))
        fail("memfd", "cannot hold the config text");
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

    settings_defaults(&s);
    memset(err, 0x55, sizeof(err));
    err[sizeof(err) - 1] = '\0';
    int rc = settings_parse_file(&s, path, err, sizeof(err));
    check_rc("settings_parse_file", rc, 0, err, sizeof(err));
    close(fd);
    if (rc == 0 && argc > 1) {
        rc = settings_parse_args(&s, argc, argv, devnull, err, sizeof(err));
        check_rc("settings_parse_args", rc, 1, err, sizeof(err));
    }
    if (rc == 0) {
        rc = settings_validate(&s, err, sizeof(err));
        check_rc("settings_validate", rc, 0, err, sizeof(err));
        if (rc == 0)
            check_valid(&s);
    }
    free(buf);
    return 0;
}
