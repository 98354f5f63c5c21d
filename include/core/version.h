/*
 * version.h - the one place the server's name and version live.
 *
 * SHMC_VERSION is what the "version" command replies (VERSION 1.6.21):
 * memcached clients parse it to pick features, so it tracks the memcached
 * release whose protocol shmcached speaks. `shmcached -V` prints
 * "shmcached 1.6.21 (memcached-compatible)".
 */
#ifndef SHMC_VERSION_H
#define SHMC_VERSION_H

#define SHMC_NAME "shmcached"
#define SHMC_VERSION "1.6.21"

#endif
