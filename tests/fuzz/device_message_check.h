/*
 * device_message_check.h - the one check of the libFuzzer targets of the
 * signed messages a device publishes with a seq (intent, usage, bind, hold
 * message, note withdrawal): any input is either refused with an error of
 * the malformed-input or policy group (fogpay_error_is_reason()), or
 * decoded; what decodes re-encodes byte for byte, and
 * fogpay_message_peek_seq() finds the same seq. A mismatch aborts, which
 * libFuzzer reports as a crash.
 */
#ifndef FOGPAY_FUZZ_DEVICE_MESSAGE_H
#define FOGPAY_FUZZ_DEVICE_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "fogpay_error.h"

/* Decodes data as the target's message: the decoder's error, or FOGPAY_OK
 * with the message's seq and its encoding again in out (cap bytes), *len
 * its length (0 when the encoder failed). */
typedef fogpay_error (*fuzz_device_roundtrip)(const uint8_t *data, size_t size, uint64_t *seq,
                                              uint8_t *out, size_t cap, size_t *len);

/* The check above of data with the target's roundtrip; 0 (aborts on a
 * mismatch). */
int fuzz_device_message(const uint8_t *data, size_t size, fuzz_device_roundtrip roundtrip);

#endif
