/*
 * certs.c - test certificates with the openssl command line (certs.h).
 */
#include "certs.h"

#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

/* Longest path of a file in the caller's directory, and of the openssl
 * command line the functions below build. */
#define CERTS_PATH_MAX 512
#define CERTS_ARGS_MAX 40

/* Extensions of each kind of certificate. */
static const char openssl_conf[] = "[req]\n"
                                   "distinguished_name = dn\n"
                                   "prompt = no\n"
                                   "[dn]\n"
                                   "[ca_ext]\n"
                                   "basicConstraints = critical,CA:TRUE\n"
                                   "keyUsage = critical,keyCertSign,cRLSign\n"
                                   "subjectKeyIdentifier = hash\n"
                                   "[server_ext]\n"
                                   "basicConstraints = critical,CA:FALSE\n"
                                   "keyUsage = critical,digitalSignature\n"
                                   "extendedKeyUsage = serverAuth\n"
                                   "subjectAltName = IP:127.0.0.1\n"
                                   "[client_ext]\n"
                                   "basicConstraints = critical,CA:FALSE\n"
                                   "keyUsage = critical,digitalSignature\n"
                                   "extendedKeyUsage = clientAuth\n";

static void path_of(const char *dir, const char *name, const char *suffix, char *out)
{
    snprintf(out, CERTS_PATH_MAX, "%s/%s%s", dir, name, suffix);
}

/* One openssl command with its output appended to dir/openssl.log. */
static bool openssl(const char *dir, const char *const *args)
{
    char log[CERTS_PATH_MAX];
    path_of(dir, "openssl", ".log", log);
    const char *argv[CERTS_ARGS_MAX] = {"openssl"};
    size_t n = 1;
    for (size_t i = 0; args[i] && n < CERTS_ARGS_MAX - 1; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    int rc = testutil_command_logged(argv, log);
    if (rc != 0) {
        fprintf(stderr, "openssl %s exited %d\n", args[0], rc);
        char *text = testutil_read_file(log, NULL);
        fprintf(stderr, "---- %s ----\n%s---- end ----\n", log, text ? text : "(none)\n");
        free(text);
    }
    return rc == 0;
}

bool test_certs_available(void)
{
    const char *version[] = {"openssl", "version", NULL};
    return testutil_command_logged(version, NULL) == 0;
}

bool test_certs_config(const char *dir)
{
    char conf[CERTS_PATH_MAX];
    path_of(dir, "openssl", ".cnf", conf);
    FILE *f = fopen(conf, "w");
    if (!f) {
        return false;
    }
    fputs(openssl_conf, f);
    return fclose(f) == 0;
}

bool test_certs_ca(const char *dir, const char *name, const char *subject)
{
    char conf[CERTS_PATH_MAX], crt[CERTS_PATH_MAX], key[CERTS_PATH_MAX];
    path_of(dir, "openssl", ".cnf", conf);
    path_of(dir, name, ".crt", crt);
    path_of(dir, name, ".key", key);
    const char *args[] = {"req",    "-config",     conf,
                          "-x509",  "-new",        "-newkey",
                          "ec",     "-pkeyopt",    "ec_paramgen_curve:P-256",
                          "-nodes", "-keyout",     key,
                          "-out",   crt,           "-days",
                          "2",      "-sha256",     "-subj",
                          subject,  "-extensions", "ca_ext",
                          NULL};
    return openssl(dir, args);
}

bool test_certs_issue(const char *dir, const char *name, const char *subject, const char *ca,
                      test_cert_kind kind, const char *serial)
{
    char conf[CERTS_PATH_MAX], crt[CERTS_PATH_MAX], key[CERTS_PATH_MAX], csr[CERTS_PATH_MAX],
        ca_crt[CERTS_PATH_MAX], ca_key[CERTS_PATH_MAX];
    path_of(dir, "openssl", ".cnf", conf);
    path_of(dir, name, ".crt", crt);
    path_of(dir, name, ".key", key);
    path_of(dir, name, ".csr", csr);
    path_of(dir, ca, ".crt", ca_crt);
    path_of(dir, ca, ".key", ca_key);
    const char *ext = kind == TEST_CERT_SERVER ? "server_ext" : "client_ext";
    const char *request[] = {"req",     "-config", conf,       "-new",
                             "-newkey", "ec",      "-pkeyopt", "ec_paramgen_curve:P-256",
                             "-nodes",  "-keyout", key,        "-out",
                             csr,       "-subj",   subject,    NULL};
    const char *sign[] = {"x509", "-req",        "-in",  csr,     "-CA", ca_crt,    "-CAkey",
                          ca_key, "-set_serial", serial, "-days", "2",   "-sha256", "-extfile",
                          conf,   "-extensions", ext,    "-out",  crt,   NULL};
    return openssl(dir, request) && openssl(dir, sign);
}
