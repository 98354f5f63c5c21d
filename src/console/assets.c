/*
 * assets.c - the dashboard's files, built into the binary (see
 * console_int.h): src/console/www/ is assembled in with .incbin, so the
 * console needs no files at run time and no network (no CDN). The table
 * maps request paths to them; anything else is not found (there is no
 * file system behind it, so no path can reach outside it).
 */
#include <string.h>

#include "console/console_int.h"

/* Defines name[] .. name_end[] over the bytes of file. */
#define ASSET(name, file)                                                   \
    __asm__(".section .rodata\n"                                            \
            ".balign 16\n"                                                  \
            ".type " #name ", @object\n"                                    \
            #name ":\n"                                                     \
            ".incbin \"" file "\"\n"                                        \
            #name "_end:\n"                                                 \
            ".byte 0\n"                                                     \
            ".previous\n");                                                 \
    extern const char name[] __asm__(#name);                                \
    extern const char name##_end[] __asm__(#name "_end")

ASSET(shmc_www_index, "src/console/www/index.html");
ASSET(shmc_www_js, "src/console/www/app.js");
ASSET(shmc_www_css, "src/console/www/app.css");
ASSET(shmc_www_icon, "src/console/www/favicon.svg");

static const struct {
    const char *path, *ctype;
    const char *start, *end;
} assets[] = {
    { "/", "text/html; charset=utf-8", shmc_www_index, shmc_www_index_end },
    { "/index.html", "text/html; charset=utf-8", shmc_www_index,
      shmc_www_index_end },
    { "/app.js", "text/javascript; charset=utf-8", shmc_www_js,
      shmc_www_js_end },
    { "/app.css", "text/css; charset=utf-8", shmc_www_css,
      shmc_www_css_end },
    { "/favicon.svg", "image/svg+xml", shmc_www_icon, shmc_www_icon_end },
    { "/favicon.ico", "image/svg+xml", shmc_www_icon, shmc_www_icon_end },
};

const char *asset_find(const char *path, size_t path_len, size_t *len,
                       const char **ctype)
{
    for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
        if (strlen(assets[i].path) == path_len &&
            memcmp(assets[i].path, path, path_len) == 0) {
            *len = (size_t)(assets[i].end - assets[i].start);
            *ctype = assets[i].ctype;
            return assets[i].start;
        }
    }
    return NULL;
}
