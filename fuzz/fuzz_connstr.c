/* Arbitrary bytes into the connection-string parser: it must never read past len, crash or
 * leak, and whatever it accepts must be self-consistent. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "divan/error.h"
#include "topology/connstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy, so that ASan catches any read past the end. */
    char *s = malloc(size ? size : 1);
    if (!s) return 0;
    if (size) memcpy(s, data, size);

    dv_connstr *cs = NULL;
    char err[128];
    int rc = dv_connstr_parse(s, size, &cs, err, sizeof err);
    if (rc == 0) {
        if (!cs || cs->nhosts == 0 || cs->nhosts > DV_CONNSTR_MAX_HOSTS) abort();
        for (size_t i = 0; i < cs->nhosts; i++) {
            const dv_connstr_host *h = &cs->hosts[i];
            size_t hl = strlen(h->host);
            if (hl == 0 || hl > DV_CONNSTR_MAX_HOST) abort();
            if (h->is_ipv6 != (h->type == DV_HOST_IPV6)) abort();
            if (h->type != DV_HOST_DNS && !dv_host_is_ip_literal(h->host, hl)) abort();
            if (h->port_given && h->port == 0) abort();
        }
        for (size_t i = 0; i < cs->nraw_options; i++)
            if (!cs->raw_options[i].key[0] || !cs->raw_options[i].value) abort();
        for (size_t i = 0; i < cs->nwarnings; i++)
            if (!cs->warnings[i][0]) abort();
        (void)dv_connstr_wants_dns_srv(cs);
        dv_connstr_free(cs);
    } else {
        if (cs || (rc != DV_ERR_INVALID_ARGUMENT && rc != DV_ERR_NO_MEMORY)) abort();
        if (!err[0]) abort(); /* every failure explains itself */
    }

    uint64_t ms;
    (void)dv_parse_duration_ms(s, size, &ms);
    (void)dv_host_is_ip_literal(s, size);
    free(s);
    return 0;
}
