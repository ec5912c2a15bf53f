/* What the TLS benchmarks share: a client and a server configuration around a throw-away
 * self-signed certificate for "localhost", made with the openssl command in a temporary
 * directory that is gone again when this returns (the configurations have read the files). */
#ifndef EDO_BENCH_TLS_BENCH_H
#define EDO_BENCH_TLS_BENCH_H

#include <edo.h>
#include <stdio.h>
#include <stdlib.h>

/* 0, or -1 (no TLS in this build, no openssl command, ...). */
static inline int tls_bench_configs(edo_tls_config **client, edo_tls_config **server)
{
    char dir[] = "/tmp/edo-tls-bench.XXXXXX", cmd[512], pem[64], key[64];
    if (!edo_tls_is_available() || !mkdtemp(dir))
        return -1;
    snprintf(pem, sizeof pem, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
             "-subj /CN=localhost -addext subjectAltName=DNS:localhost -keyout %s -out %s "
             "2>/dev/null",
             key, pem);
    int rc = system(cmd) != 0 ||
             edo_tls_config_new(&(edo_tls_options){.ca_file = pem}, client) < 0 ||
             edo_tls_config_new(&(edo_tls_options){.role = EDO_TLS_SERVER, .cert_file = pem,
                                                   .key_file = key},
                                server) < 0;
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) != 0 || rc ? -1 : 0;
}

#endif
