/*
 * agent_log.c - the agent's log: one line for each event on standard error,
 * prefixed "fogpay-agent: ".
 */
#include <stdarg.h>
#include <stdio.h>

#include "agent_internal.h"

void agent_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fogpay-agent: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
