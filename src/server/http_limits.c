/* divan-server's HTTP listener limits; see http_limits.h. */
#include "server/http_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"

typedef struct watched {
    struct watched *prev, *next;
    int fd;
    uint8_t addr[16]; /* the client's address, for the per-address count */
    uint8_t addr_len;
    int done; /* the first request's headers arrived */
    int cut;  /* shut down by the guard */
    uint64_t start_ms;
    char peer[INET6_ADDRSTRLEN];
} watched;

struct dv_http_guard {
    dv_http_limits l;
    char name[16];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int stop;
    watched *conns;
    uint64_t refused, refused_logged_ms; /* per-address refusals since the last log line */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The address bytes of sa (4 or 16), or 0. */
static size_t addr_key(const struct sockaddr *sa, uint8_t out[16])
{
    if (!sa) return 0;
    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 4;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return 16;
    }
    return 0;
}

static void *guard_main(void *arg)
{
    dv_http_guard *g = arg;
    /* Check four times per timeout: a slow client is cut at most a quarter late. */
    uint64_t tick = g->l.header_timeout_ms / 4 ? g->l.header_timeout_ms / 4 : 1;
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)(tick / 1000);
        until.tv_nsec += (long)(tick % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->cv, &g->mu, &until);
        uint64_t now = mono_ms();
        unsigned cut = 0;
        char last[INET6_ADDRSTRLEN] = "";
        for (watched *w = g->conns; w; w = w->next) {
            if (w->done || w->cut || now - w->start_ms < g->l.header_timeout_ms) continue;
            /* The fd stays open until libmicrohttpd closes the connection, which it reports
             * (removing the entry under this lock) before closing it. */
            shutdown(w->fd, SHUT_RDWR);
            w->cut = 1;
            cut++;
            memcpy(last, w->peer, sizeof last);
        }
        if (cut) {
            /* Logged without the lock: a slow log must not hold up accepting. */
            pthread_mutex_unlock(&g->mu);
            dv_log(DV_LOG_WARN, "http",
                   "%s: closing %u connection(s): request headers not received within %u ms "
                   "(the last from %s)",
                   g->name, cut, (unsigned)g->l.header_timeout_ms, last);
            pthread_mutex_lock(&g->mu);
        }
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    dv_http_guard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        watched *w = dv_calloc(1, sizeof *w);
        if (!w || !fi) {
            dv_free(w);
            return;
        }
        w->fd = fi->connect_fd;
        w->start_ms = mono_ms();
        w->addr_len = (uint8_t)addr_key(ai ? ai->client_addr : NULL, w->addr);
        snprintf(w->peer, sizeof w->peer, "?");
        if (ai && ai->client_addr) {
            const struct sockaddr *sa = ai->client_addr;
            if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, w->peer,
                          sizeof w->peer);
            else if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, w->peer,
                          sizeof w->peer);
        }
        pthread_mutex_lock(&g->mu);
        w->next = g->conns;
        if (g->conns) g->conns->prev = w;
        g->conns = w;
        pthread_mutex_unlock(&g->mu);
        *socket_context = w;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        watched *w = *socket_context;
        if (!w) return;
        pthread_mutex_lock(&g->mu);
        if (w->prev)
            w->prev->next = w->next;
        else
            g->conns = w->next;
        if (w->next) w->next->prev = w->prev;
        pthread_mutex_unlock(&g->mu);
        dv_free(w);
        *socket_context = NULL;
    }
}

dv_http_guard *dv_http_guard_new(const dv_http_limits *l, const char *name)
{
    dv_http_guard *g = dv_calloc(1, sizeof *g);
    if (!g) return NULL;
    if (l) g->l = *l;
    if (!g->l.max_connections) g->l.max_connections = DV_HTTP_DEFAULT_MAX_CONNECTIONS;
    if (!g->l.max_per_ip) g->l.max_per_ip = DV_HTTP_DEFAULT_MAX_PER_IP;
    if (!g->l.idle_timeout_s) g->l.idle_timeout_s = DV_HTTP_DEFAULT_IDLE_TIMEOUT_S;
    if (!g->l.header_timeout_ms) g->l.header_timeout_ms = DV_HTTP_DEFAULT_HEADER_TIMEOUT_MS;
    snprintf(g->name, sizeof g->name, "%s", name ? name : "HTTP");
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&g->thread, NULL, guard_main, g) != 0) {
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        dv_free(g);
        return NULL;
    }
    return g;
}

void dv_http_guard_options(dv_http_guard *g, struct MHD_OptionItem opts[DV_HTTP_GUARD_OPTIONS])
{
    opts[0] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, g->l.max_connections, NULL};
    opts[1] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, g->l.idle_timeout_s, NULL};
    opts[2] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, g};
    int i = 3;
    if (g->l.tls_cert_pem && g->l.tls_key_pem) {
        opts[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)g->l.tls_key_pem};
        opts[i++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)g->l.tls_cert_pem};
    }
    opts[i] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

unsigned dv_http_guard_flags(const dv_http_guard *g)
{
    return g->l.tls_cert_pem && g->l.tls_key_pem ? MHD_USE_TLS : 0;
}

enum MHD_Result dv_http_guard_accept(void *guard, const struct sockaddr *addr, socklen_t len)
{
    (void)len;
    dv_http_guard *g = guard;
    uint8_t key[16];
    size_t kl = addr_key(addr, key);
    if (!kl) return MHD_YES;
    unsigned n = 0;
    pthread_mutex_lock(&g->mu);
    for (watched *w = g->conns; w; w = w->next)
        if (w->addr_len == kl && memcmp(w->addr, key, kl) == 0) n++;
    if (n < g->l.max_per_ip) {
        pthread_mutex_unlock(&g->mu);
        return MHD_YES;
    }
    /* One log line a second at most: a flood of refused connections must not become a flood
     * of log writes. */
    g->refused++;
    uint64_t now = mono_ms(), refused = 0;
    if (now - g->refused_logged_ms >= 1000) {
        refused = g->refused;
        g->refused = 0;
        g->refused_logged_ms = now;
    }
    pthread_mutex_unlock(&g->mu);
    if (refused) {
        char text[INET6_ADDRSTRLEN] = "?";
        inet_ntop(kl == 4 ? AF_INET : AF_INET6, key, text, sizeof text);
        dv_log(DV_LOG_WARN, "http",
               "%s: refused %llu connection(s) from addresses with %u open (the last from %s)",
               g->name, (unsigned long long)refused, g->l.max_per_ip, text);
    }
    return MHD_NO;
}

void dv_http_guard_headers_done(dv_http_guard *g, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (!ci || !ci->socket_context) return;
    pthread_mutex_lock(&g->mu);
    ((watched *)ci->socket_context)->done = 1;
    pthread_mutex_unlock(&g->mu);
}

void dv_http_guard_free(dv_http_guard *g)
{
    if (!g) return;
    pthread_mutex_lock(&g->mu);
    g->stop = 1;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    while (g->conns) {
        watched *w = g->conns;
        g->conns = w->next;
        dv_free(w);
    }
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    dv_free(g);
}
