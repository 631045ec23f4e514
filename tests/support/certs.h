/*
 * certs.h - X.509 certificates for TLS listeners in tests and benchmarks,
 * made with the openssl command line in a directory of the caller's (a
 * test broker's): a self-signed CA, and keys with certificates it signs
 * for a server (127.0.0.1) or a client (a device's common name).
 *
 * Files are named <name>.crt and <name>.key in dir; the openssl
 * configuration is dir/openssl.cnf (the program's own, so that the
 * system's openssl.cnf changes nothing) and openssl's output goes to
 * dir/openssl.log, printed to stderr when a command fails. Keys are P-256,
 * certificates valid for two days.
 */
#ifndef FOGPAY_TEST_CERTS_H
#define FOGPAY_TEST_CERTS_H

#include <stdbool.h>

/* The extensions a certificate is issued with. */
typedef enum test_cert_kind {
    TEST_CERT_SERVER, /* serverAuth, subjectAltName IP:127.0.0.1 */
    TEST_CERT_CLIENT, /* clientAuth */
} test_cert_kind;

/* True when the openssl program runs. */
bool test_certs_available(void);

/* Writes dir/openssl.cnf. False when it cannot be written. */
bool test_certs_config(const char *dir);

/* A self-signed CA <name>.crt and <name>.key with subject ("/CN=..."). */
bool test_certs_ca(const char *dir, const char *name, const char *subject);

/* A key <name>.key and a certificate <name>.crt for subject, signed by the
 * CA <ca> in dir, of the given kind, with serial (decimal text). */
bool test_certs_issue(const char *dir, const char *name, const char *subject, const char *ca,
                      test_cert_kind kind, const char *serial);

#endif
