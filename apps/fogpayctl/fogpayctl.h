/*
 * fogpayctl.h - shared by fogpayctl's parts: main and the offline-only
 * commands (fogpayctl.c), the control commands that work both ways
 * (fogpayctl_command.c), and the MQTT exchange of the online path
 * (fogpayctl_online.c).
 */
#ifndef FOGPAYCTL_H
#define FOGPAYCTL_H

#include <stdbool.h>

#include "ledger.h"

#define FOGPAYCTL_PROGRAM "fogpayctl"

/* How to reach a gateway's broker as an operator or a legal entity. Strings are borrowed
 * (from argv, or the caller's buffer for the password). */
typedef struct fogpayctl_connection {
    const char *host;
    int port;
    const char *username;
    const char *password; /* read from --password-file, never from argv */
    const char *cafile;   /* TLS when set */
    int timeout_ms;
    bool entity; /* username is a legal entity's own login: its replies come on its topic */
} fogpayctl_connection;

/* Where a control request goes: exactly one of ledger (offline: the one
 * control handler on the opened ledger) and conn (online: the gateway's
 * $CONTROL/fogpay/v1). */
typedef struct fogpayctl_target {
    fogpay_ledger *ledger;
    const fogpayctl_connection *conn;
    bool json;        /* print the whole reply as JSON, not the text form */
    bool stdin_taken; /* the operator password came from standard input */
    /* Offline: the note issuers trusted (--note-issuers FILE); NULL: none. */
    const struct fogpay_note_issuers *note_issuers;
} fogpayctl_target;

/* Runs the control command argv[0] (its control name, such as
 * "suspendDevice", or its alias, such as "suspend-device") with fields
 * from "--some-field value" pairs, prints the reply and returns the exit
 * status: 0 when the command succeeded, 1 when it was refused or the
 * exchange failed, 2 when the command line or the request was malformed.
 * The same request, the same handler and the same printing on both paths. */
int fogpayctl_command(const fogpayctl_target *target, int argc, char **argv);

/* The reply to request (a NUL-terminated JSON request carrying
 * correlation) from the target, online or offline, as a string from malloc
 * the caller frees; NULL after printing why. */
char *fogpayctl_exchange(const fogpayctl_target *target, const char *request,
                         const char *correlation);

/* "import-devices --file FILE [--secrets-out FILE]" (fogpayctl_import.c):
 * many devices from a file of JSON lines in one importDevices command, on
 * either path; the exit status as fogpayctl_command. */
int fogpayctl_import(const fogpayctl_target *target, int argc, char **argv);

/* "notes load --file FILE" (fogpayctl_notes.c): the lines of a note file
 * (fogpay-issuer issue --out) into the gateway's stock, in loadNotes
 * commands of at most FOGPAY_LEDGER_NOTE_LOAD_MAX notes each, on either
 * path; the exit status as fogpayctl_command. */
int fogpayctl_notes_load(const fogpayctl_target *target, int argc, char **argv);

/* "notes redeem --entity LE --file FILE": the notes of a note file handed
 * back by a legal entity into its account, in redeemNotes commands of at
 * most FOGPAY_LEDGER_NOTE_LOAD_MAX notes each, on either path; the exit
 * status as fogpayctl_command. */
int fogpayctl_notes_redeem(const fogpayctl_target *target, int argc, char **argv);

/* Offline, "notes export-returned --key GATEWAY-KEY --out FILE": the
 * stock's notes that came back from devices, handed back to their issuers
 * (fogpay_ledger_note_return) and written as a note file; the exit status
 * as fogpayctl_command. */
int fogpayctl_notes_export(const fogpayctl_target *target, int argc, char **argv);

/* Online: publishes request (a NUL-terminated JSON request carrying
 * correlation) and returns the reply carrying that correlation data, as a
 * string from malloc the caller frees; NULL after printing why (connect,
 * publish, timeout). */
char *fogpayctl_online_exchange(const fogpayctl_connection *conn, const char *request,
                                const char *correlation);

#endif
