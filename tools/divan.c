/* divan: the command-line tool on libdivan's public C API (client.h, through the native driver).
 *
 *   divan [options] COMMAND KEY [VALUE | SPEC...]   one operation; the result as one JSON object
 *   divan load [options]                            a load generator like cbc-pillowfight
 *   divan load --memcached [options]                the same load on a plain memcached server
 *
 * Errors are one line on stderr and exit code 1; usage errors exit 2. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "divan/client.h"
#include "divan/divan.h"
#include "mcbp/frame.h"
#include "mcbp/opcode.h"
#include "topology/connstr.h"

#define FLAGS_JSON   0x02000000u /* common flags: the document is JSON */
#define FLAGS_BINARY 0x03000000u
#define FLAGS_STRING 0x04000000u

static const char usage_text[] =
    "usage: divan [options] COMMAND KEY [VALUE | SPEC...]\n"
    "       divan [options] query STATEMENT [ARG...]\n"
    "       divan load [options]\n"
    "\n"
    "Commands (the result is printed as one JSON object on stdout):\n"
    "  get KEY                 the document, flags and CAS (--with-expiry adds the expiry)\n"
    "  upsert|insert|replace KEY VALUE\n"
    "                          store VALUE (JSON if it parses as JSON, else a string)\n"
    "  remove KEY              delete (with --cas: only that version)\n"
    "  touch KEY               set the expiry (--expiry)\n"
    "  lock KEY                get and lock (--lock-time SECONDS, default 15)\n"
    "  unlock KEY              unlock (--cas from the lock is required)\n"
    "  incr|decr KEY           counters (--delta N, default 1; --initial N creates it)\n"
    "  append|prepend KEY VALUE\n"
    "  exists KEY              {\"exists\":true|false}\n"
    "  lookup KEY SPEC...      sub-document lookups: get:PATH exists:PATH count:PATH\n"
    "                          (get: with an empty path is the whole document)\n"
    "  mutate KEY SPEC...      sub-document mutations: upsert:PATH=JSON insert:PATH=JSON\n"
    "                          replace:PATH=JSON remove:PATH counter:PATH=N\n"
    "                          array-append:PATH=JSON array-prepend:PATH=JSON\n"
    "                          array-insert:PATH=JSON array-add-unique:PATH=JSON\n"
    "                          A leading xattr: addresses an extended attribute\n"
    "                          (xattr:upsert:meta.by=\"me\"); \"${Mutation.CAS}\" and friends\n"
    "                          are expanded in xattrs. --store replace|upsert|insert says\n"
    "                          whether the document must exist (default replace).\n"
    "  query STATEMENT [ARG...]\n"
    "                          a SQL++ statement on the query service; each ARG (JSON, else a\n"
    "                          string) binds $1, $2, ...; each result row is printed as one line\n"
    "                          of JSON. --bucket and --collection's scope set the query context\n"
    "                          when --collection is given; --timeout is the query's (default\n"
    "                          75000 ms). A failed statement: its first error on stderr, exit 1.\n"
    "\n"
    "Options:\n"
    "  -U, --url CONNSTR       couchbase://host[:port][,host...] (default couchbase://127.0.0.1);\n"
    "                          couchbases://... for TLS\n"
    "      --trust-store FILE  TLS: PEM CAs to trust (default: the system's)\n"
    "      --no-verify         TLS: do not verify the server's certificate\n"
    "      --cert FILE         TLS: a client certificate (PEM) that authenticates instead of\n"
    "      --key FILE            --user/--password, with its key\n"
    "  -u, --user NAME         default Administrator\n"
    "  -p, --password PASS     default password\n"
    "  -b, --bucket NAME       default \"default\"\n"
    "      --collection S.C    scope.collection (default _default._default)\n"
    "      --expiry SECONDS    document expiry (0: none)\n"
    "      --cas N             compare-and-swap value (decimal or 0x hex, as printed)\n"
    "      --durability LEVEL  none|majority|majorityAndPersistActive|persistToMajority\n"
    "      --timeout MS        operation (and connection) timeout\n"
    "      --lock-time S       lock: seconds (default 15)\n"
    "      --delta N           incr/decr: amount (default 1)\n"
    "      --initial N         incr/decr: create the counter with N if missing\n"
    "      --flags N           upsert/insert/replace: flags (default: JSON or string)\n"
    "      --with-expiry       get: also the expiry\n"
    "      --preserve-expiry   upsert/replace: keep the document's expiry\n"
    "      --create-path       mutate: create missing parents of the paths\n"
    "      --store SEMANTICS   mutate: replace|upsert|insert\n"
    "  -h, --help              this text\n"
    "      --version           divan's version\n"
    "\n"
    "divan load: a load generator (cbc-pillowfight-like); the options above for the cluster and\n"
    "  -c, --connections N     clients, each its own connection and driver thread (default 1)\n"
    "  -i, --in-flight N       operations in flight per connection (default 16)\n"
    "  -r, --ratio P           percentage of gets (default 90; the rest are upserts)\n"
    "  -k, --keys N            key space (default 10000)\n"
    "  -s, --size BYTES        document size (default 100)\n"
    "  -d, --duration S        seconds to run (default 10), or\n"
    "  -n, --ops N             stop after N operations\n"
    "      --prefix P          key prefix (default \"divan-load-\")\n"
    "      --no-populate       do not store every key first\n"
    "      --quiet             no progress line\n"
    "      --json              the summary as one JSON object on stdout\n"
    "      --allow-errors      exit 0 even if operations failed\n"
    "      --memcached         drive a plain memcached server instead (the baseline to compare\n"
    "                          with): the first host[:port] of --url (default port 11211), the\n"
    "                          memcached binary protocol's GET and SET (flags 0) with no HELLO,\n"
    "                          authentication or bucket; one thread and blocking socket per\n"
    "                          connection, --in-flight requests pipelined on it; --timeout is\n"
    "                          the wait for a response (default 10000 ms); the summary is the\n"
    "                          same. --user, --password and --bucket are ignored unless\n"
    "                          --sasl; --collection and --durability are refused.\n"
    "      --sasl              with --memcached: each connection first authenticates (SASL\n"
    "                          PLAIN, --user/--password) and selects --bucket, so that the same\n"
    "                          plain loader also drives divan-server or Couchbase Server\n"
    "\n"
    "Errors: one line on stderr, exit 1 (usage errors: exit 2).\n";

/* ---- Options --------------------------------------------------------------------------------- */

typedef struct opts {
    const char *url, *user, *password, *bucket;
    const char *trust_store, *cert, *key;
    int no_verify;
    char *scope, *collection;
    uint32_t expiry;
    uint64_t cas;
    uint8_t durability;
    uint64_t timeout_ms;
    uint32_t lock_time;
    uint64_t delta, initial;
    int has_initial, has_flags, with_expiry, preserve_expiry, create_path;
    uint32_t flags;
    dv_store_semantics store;
    /* load */
    unsigned connections, in_flight, ratio, size;
    uint64_t keys, ops;
    double duration;
    const char *prefix;
    int no_populate, quiet, json, allow_errors, memcached, sasl;
} opts;

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("divan: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see divan --help)\n", stderr);
    exit(2);
}

static uint64_t parse_u64(const char *name, const char *s)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-') die_usage("%s: not a number: %s", name, s);
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end) die_usage("%s: not a number: %s", name, s);
    return v;
}

enum {
    O_COLLECTION = 256,
    O_EXPIRY,
    O_CAS,
    O_DURABILITY,
    O_TIMEOUT,
    O_LOCK_TIME,
    O_DELTA,
    O_INITIAL,
    O_FLAGS,
    O_WITH_EXPIRY,
    O_PRESERVE_EXPIRY,
    O_CREATE_PATH,
    O_STORE,
    O_PREFIX,
    O_NO_POPULATE,
    O_QUIET,
    O_JSON,
    O_ALLOW_ERRORS,
    O_MEMCACHED,
    O_SASL,
    O_VERSION,
    O_TRUST_STORE,
    O_NO_VERIFY,
    O_CERT,
    O_KEY,
};

static const struct option long_opts[] = {
    {"url", required_argument, NULL, 'U'},
    {"user", required_argument, NULL, 'u'},
    {"password", required_argument, NULL, 'p'},
    {"bucket", required_argument, NULL, 'b'},
    {"help", no_argument, NULL, 'h'},
    {"collection", required_argument, NULL, O_COLLECTION},
    {"expiry", required_argument, NULL, O_EXPIRY},
    {"cas", required_argument, NULL, O_CAS},
    {"durability", required_argument, NULL, O_DURABILITY},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"lock-time", required_argument, NULL, O_LOCK_TIME},
    {"delta", required_argument, NULL, O_DELTA},
    {"initial", required_argument, NULL, O_INITIAL},
    {"flags", required_argument, NULL, O_FLAGS},
    {"with-expiry", no_argument, NULL, O_WITH_EXPIRY},
    {"preserve-expiry", no_argument, NULL, O_PRESERVE_EXPIRY},
    {"create-path", no_argument, NULL, O_CREATE_PATH},
    {"store", required_argument, NULL, O_STORE},
    {"connections", required_argument, NULL, 'c'},
    {"in-flight", required_argument, NULL, 'i'},
    {"ratio", required_argument, NULL, 'r'},
    {"keys", required_argument, NULL, 'k'},
    {"size", required_argument, NULL, 's'},
    {"duration", required_argument, NULL, 'd'},
    {"ops", required_argument, NULL, 'n'},
    {"prefix", required_argument, NULL, O_PREFIX},
    {"no-populate", no_argument, NULL, O_NO_POPULATE},
    {"quiet", no_argument, NULL, O_QUIET},
    {"json", no_argument, NULL, O_JSON},
    {"allow-errors", no_argument, NULL, O_ALLOW_ERRORS},
    {"memcached", no_argument, NULL, O_MEMCACHED},
    {"sasl", no_argument, NULL, O_SASL},
    {"version", no_argument, NULL, O_VERSION},
    {"trust-store", required_argument, NULL, O_TRUST_STORE},
    {"no-verify", no_argument, NULL, O_NO_VERIFY},
    {"cert", required_argument, NULL, O_CERT},
    {"key", required_argument, NULL, O_KEY},
    {NULL, 0, NULL, 0},
};

static int parse_opts(int argc, char **argv, opts *o)
{
    o->url = "couchbase://127.0.0.1";
    o->user = "Administrator";
    o->password = "password";
    o->bucket = "default";
    o->lock_time = 15;
    o->delta = 1;
    o->store = DV_STORE_REPLACE;
    o->connections = 1;
    o->in_flight = 16;
    o->ratio = 90;
    o->size = 100;
    o->keys = 10000;
    o->duration = 10;
    o->prefix = "divan-load-";
    int ch;
    while ((ch = getopt_long(argc, argv, "U:u:p:b:hc:i:r:k:s:d:n:", long_opts, NULL)) != -1) {
        switch (ch) {
        case 'U':
            o->url = optarg;
            break;
        case 'u':
            o->user = optarg;
            break;
        case 'p':
            o->password = optarg;
            break;
        case 'b':
            o->bucket = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            exit(0);
        case O_COLLECTION: {
            const char *dot = strchr(optarg, '.');
            if (!dot || dot == optarg || !dot[1] || strchr(dot + 1, '.'))
                die_usage("--collection: expected scope.collection, got %s", optarg);
            o->scope = strndup(optarg, (size_t)(dot - optarg));
            o->collection = strdup(dot + 1);
            break;
        }
        case O_EXPIRY:
            o->expiry = (uint32_t)parse_u64("--expiry", optarg);
            break;
        case O_CAS:
            o->cas = parse_u64("--cas", optarg);
            break;
        case O_DURABILITY:
            if (!strcmp(optarg, "none"))
                o->durability = 0;
            else if (!strcmp(optarg, "majority"))
                o->durability = 1;
            else if (!strcmp(optarg, "majorityAndPersistActive") ||
                     !strcmp(optarg, "majorityAndPersistToActive"))
                o->durability = 2;
            else if (!strcmp(optarg, "persistToMajority"))
                o->durability = 3;
            else
                die_usage("--durability: unknown level %s", optarg);
            break;
        case O_TIMEOUT:
            o->timeout_ms = parse_u64("--timeout", optarg);
            break;
        case O_LOCK_TIME:
            o->lock_time = (uint32_t)parse_u64("--lock-time", optarg);
            break;
        case O_DELTA:
            o->delta = parse_u64("--delta", optarg);
            break;
        case O_INITIAL:
            o->initial = parse_u64("--initial", optarg);
            o->has_initial = 1;
            break;
        case O_FLAGS:
            o->flags = (uint32_t)parse_u64("--flags", optarg);
            o->has_flags = 1;
            break;
        case O_WITH_EXPIRY:
            o->with_expiry = 1;
            break;
        case O_PRESERVE_EXPIRY:
            o->preserve_expiry = 1;
            break;
        case O_CREATE_PATH:
            o->create_path = 1;
            break;
        case O_STORE:
            if (!strcmp(optarg, "replace"))
                o->store = DV_STORE_REPLACE;
            else if (!strcmp(optarg, "upsert"))
                o->store = DV_STORE_UPSERT;
            else if (!strcmp(optarg, "insert"))
                o->store = DV_STORE_INSERT;
            else
                die_usage("--store: expected replace, upsert or insert, got %s", optarg);
            break;
        case 'c':
            o->connections = (unsigned)parse_u64("--connections", optarg);
            break;
        case 'i':
            o->in_flight = (unsigned)parse_u64("--in-flight", optarg);
            break;
        case 'r':
            o->ratio = (unsigned)parse_u64("--ratio", optarg);
            break;
        case 'k':
            o->keys = parse_u64("--keys", optarg);
            break;
        case 's':
            o->size = (unsigned)parse_u64("--size", optarg);
            break;
        case 'd': {
            char *end;
            o->duration = strtod(optarg, &end);
            if (*end || !(o->duration > 0))
                die_usage("--duration: not a positive number: %s", optarg);
            break;
        }
        case 'n':
            o->ops = parse_u64("--ops", optarg);
            break;
        case O_PREFIX:
            o->prefix = optarg;
            break;
        case O_NO_POPULATE:
            o->no_populate = 1;
            break;
        case O_QUIET:
            o->quiet = 1;
            break;
        case O_JSON:
            o->json = 1;
            break;
        case O_ALLOW_ERRORS:
            o->allow_errors = 1;
            break;
        case O_SASL:
            o->sasl = 1;
            break;
        case O_MEMCACHED:
            o->memcached = 1;
            break;
        case O_TRUST_STORE:
            o->trust_store = optarg;
            break;
        case O_NO_VERIFY:
            o->no_verify = 1;
            break;
        case O_CERT:
            o->cert = optarg;
            break;
        case O_KEY:
            o->key = optarg;
            break;
        case O_VERSION:
            printf("divan %s\n", DV_VERSION);
            exit(0);
        default:
            fputs("(see divan --help)\n", stderr);
            exit(2);
        }
    }
    return optind;
}

static dv_client *connect_or_die(const opts *o, const char *what)
{
    dv_client_opts co;
    memset(&co, 0, sizeof co);
    co.connstr = o->url;
    co.username = o->user;
    co.password = o->password;
    co.kv_timeout_ms = o->timeout_ms;
    co.kv_durable_timeout_ms = o->timeout_ms;
    co.connect_timeout_ms = o->timeout_ms;
    co.bootstrap_timeout_ms = o->timeout_ms;
    co.trust_store_path = o->trust_store;
    co.tls_verify = o->no_verify ? DV_CLIENT_TLS_VERIFY_NONE : DV_CLIENT_TLS_VERIFY_DEFAULT;
    co.cert_path = o->cert;
    co.key_path = o->key;
    if (o->cert) co.username = co.password = NULL;
    dv_client *c;
    char err[512];
    dv_error rc = dv_client_new(&co, &c, err, sizeof err);
    if (rc != DV_ERR_OK) {
        fprintf(stderr, "divan: %s: %s\n", what, err[0] ? err : dv_strerror(rc));
        exit(rc == DV_ERR_INVALID_ARGUMENT ? 2 : 1);
    }
    return c;
}

/* ---- Output ------------------------------------------------------------------------------------
 */

/* Lower-case official name of an error ("document_not_found"). */
static void print_err_name(FILE *f, dv_error e)
{
    const char *n = dv_error_name(e);
    if (!n) {
        fprintf(f, "error_%d", (int)e);
        return;
    }
    for (; *n; n++) fputc(*n >= 'A' && *n <= 'Z' ? *n - 'A' + 'a' : *n, f);
}

static void print_json_string(FILE *f, const void *p, size_t n)
{
    json_t *s = json_stringn(p, n);
    char *out = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
    if (out) {
        fputs(out, f);
    } else { /* not UTF-8: hex */
        fputc('"', f);
        for (size_t i = 0; i < n; i++) fprintf(f, "%02x", ((const uint8_t *)p)[i]);
        fputc('"', f);
    }
    free(out);
    json_decref(s);
}

static int is_json(const void *p, size_t n)
{
    json_error_t je;
    json_t *j = json_loadb(p, n, JSON_DECODE_ANY, &je);
    if (!j) return 0;
    json_decref(j);
    return 1;
}

/* A value as JSON: itself if it is JSON, else a string. */
static void print_value(FILE *f, const void *p, size_t n)
{
    if (n && is_json(p, n))
        fwrite(p, 1, n, f);
    else
        print_json_string(f, p, n);
}

/* The one line for a failed operation. */
static void print_error(const char *cmd, const char *key, const dv_res *r)
{
    const dv_error_context *x = r->ctx;
    fprintf(stderr, "divan: %s %s: ", cmd, key);
    print_err_name(stderr, r->err);
    fprintf(stderr, " (%s): %s", dv_error_python_class(r->err), dv_strerror(r->err));
    if (x && x->message && x->message[0]) fprintf(stderr, ": %s", x->message);
    if (x) {
        const char *op = dv_opcode_name(x->opcode);
        fprintf(stderr, " [opcode %s", op ? op : "?");
        if (x->status != 0xffff) {
            const char *st = dv_status_name(x->status);
            if (st)
                fprintf(stderr, ", status %s", st);
            else
                fprintf(stderr, ", status 0x%02x", x->status);
        }
        fprintf(stderr, ", node %s, %.1f ms, retries %u", x->node && x->node[0] ? x->node : "none",
                (double)x->elapsed_us / 1000.0, x->retries);
        if (x->retry_reasons && x->retry_reasons[0]) fprintf(stderr, " (%s)", x->retry_reasons);
        fputc(']', stderr);
    }
    fputc('\n', stderr);
}

static void print_token(const dv_res *r)
{
    if (!r->has_token) return;
    printf(",\"token\":{\"bucket_name\":");
    print_json_string(stdout, r->token.bucket_name ? r->token.bucket_name : "",
                      r->token.bucket_name ? strlen(r->token.bucket_name) : 0);
    printf(",\"partition_id\":%u,\"partition_uuid\":%" PRIu64 ",\"sequence_number\":%" PRIu64 "}",
           r->token.partition_id, r->token.partition_uuid, r->token.sequence_number);
}

/* ---- One operation ----------------------------------------------------------------------------
 */

typedef struct one {
    const char *cmd, *key;
    const dv_req *req;
    int rc; /* the exit code */
} one;

static void on_one(void *ud, const dv_res *r)
{
    one *s = ud;
    const dv_req *q = s->req;
    if (r->err != DV_ERR_OK) {
        print_error(s->cmd, s->key, r);
        s->rc = 1;
        return;
    }
    printf("{\"cas\":\"0x%016" PRIx64 "\"", r->cas);
    switch (q->kind) {
    case DV_KV_GET:
    case DV_KV_GET_AND_LOCK:
    case DV_KV_GET_AND_TOUCH:
    case DV_KV_GET_REPLICA:
        printf(",\"flags\":%u", r->flags);
        if (q->with_expiry) printf(",\"expiry\":%u", r->expiry);
        printf(",\"value\":");
        if (r->datatype & DV_DATATYPE_JSON)
            fwrite(r->value, 1, r->value_len, stdout);
        else
            print_value(stdout, r->value, r->value_len);
        break;
    case DV_KV_EXISTS:
        printf(",\"exists\":%s", r->exists ? "true" : "false");
        if (r->deleted) printf(",\"deleted\":true");
        break;
    case DV_KV_INCREMENT:
    case DV_KV_DECREMENT:
        printf(",\"counter\":%" PRIu64, r->counter);
        print_token(r);
        break;
    case DV_KV_LOOKUP_IN:
    case DV_KV_MUTATE_IN:
        print_token(r);
        printf(",\"results\":[");
        for (size_t i = 0; i < r->nspecs; i++) {
            const dv_subdoc_res *sr = &r->specs[i];
            const dv_subdoc_op *sp = i < q->nspecs ? &q->specs[i] : NULL;
            printf("%s{\"path\":", i ? "," : "");
            print_json_string(stdout, sp ? sp->path : "", sp ? sp->path_len : 0);
            if (sr->err != DV_ERR_OK) {
                printf(",\"error\":\"");
                print_err_name(stdout, sr->err);
                printf("\"");
            } else if (sp && sp->opcode == DV_OP_SUBDOC_EXISTS) {
                /* The engine answers "true" or "false" (a missing path is not an error). */
                int no = sr->value_len == 5 && !memcmp(sr->value, "false", 5);
                printf(",\"exists\":%s", no ? "false" : "true");
            } else if (sr->value_len) {
                printf(",\"value\":");
                print_value(stdout, sr->value, sr->value_len);
            }
            printf("}");
        }
        printf("]");
        break;
    default:
        print_token(r);
        break;
    }
    printf("}\n");
    fflush(stdout);
}

typedef struct spec_name {
    const char *name;
    uint8_t opcode;
    int mutation, needs_value;
} spec_name;

static const spec_name spec_names[] = {
    {"get", DV_OP_SUBDOC_GET, 0, 0},
    {"exists", DV_OP_SUBDOC_EXISTS, 0, 0},
    {"count", DV_OP_SUBDOC_GET_COUNT, 0, 0},
    {"upsert", DV_OP_SUBDOC_DICT_UPSERT, 1, 1},
    {"insert", DV_OP_SUBDOC_DICT_ADD, 1, 1},
    {"replace", DV_OP_SUBDOC_REPLACE, 1, 1},
    {"remove", DV_OP_SUBDOC_DELETE, 1, 0},
    {"counter", DV_OP_SUBDOC_COUNTER, 1, 1},
    {"array-append", DV_OP_SUBDOC_ARRAY_PUSH_LAST, 1, 1},
    {"array-prepend", DV_OP_SUBDOC_ARRAY_PUSH_FIRST, 1, 1},
    {"array-insert", DV_OP_SUBDOC_ARRAY_INSERT, 1, 1},
    {"array-add-unique", DV_OP_SUBDOC_ARRAY_ADD_UNIQUE, 1, 1},
};

/* [xattr:]OP:PATH[=VALUE] into s. */
static void parse_spec(const char *arg, int mutation, int create_path, dv_subdoc_op *s)
{
    const char *p = arg;
    memset(s, 0, sizeof *s);
    if (!strncmp(p, "xattr:", 6)) {
        s->flags |= DV_SUBDOC_PATH_XATTR;
        p += 6;
    }
    const char *colon = strchr(p, ':');
    if (!colon) die_usage("spec %s: expected OP:PATH", arg);
    const spec_name *n = NULL;
    for (size_t i = 0; i < sizeof spec_names / sizeof spec_names[0]; i++)
        if (strlen(spec_names[i].name) == (size_t)(colon - p) &&
            !strncmp(spec_names[i].name, p, (size_t)(colon - p)))
            n = &spec_names[i];
    if (!n || n->mutation != mutation)
        die_usage("spec %s: unknown %s operation", arg, mutation ? "mutate" : "lookup");
    const char *path = colon + 1, *eq = n->needs_value ? strchr(path, '=') : NULL;
    if (n->needs_value && !eq)
        die_usage("spec %s: expected %.*s:PATH=VALUE", arg, (int)(colon - p), p);
    s->opcode = n->opcode;
    s->path = path;
    s->path_len = eq ? (size_t)(eq - path) : strlen(path);
    if (eq) {
        s->value = eq + 1;
        s->value_len = strlen(eq + 1);
        if ((s->flags & DV_SUBDOC_PATH_XATTR) && strstr(eq + 1, "${"))
            s->flags |= DV_SUBDOC_PATH_EXPAND_MACROS;
    }
    if (create_path && mutation && n->opcode != DV_OP_SUBDOC_DELETE)
        s->flags |= DV_SUBDOC_PATH_MKDIR_P;
    if (!mutation && n->opcode == DV_OP_SUBDOC_GET && s->path_len == 0 &&
        !(s->flags & DV_SUBDOC_PATH_XATTR))
        s->opcode = DV_SUBDOC_OP_GET_DOC; /* get: the whole document */
}

typedef struct waitbox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    dv_error err;
    char msg[512];
} waitbox;

static void on_open(void *ud, const dv_res *r)
{
    waitbox *w = ud;
    pthread_mutex_lock(&w->mu);
    w->err = r->err;
    if (r->ctx && r->ctx->message) snprintf(w->msg, sizeof w->msg, "%s", r->ctx->message);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Open the bucket and wait: a wrong password or bucket is reported as such. */
static dv_error open_bucket(dv_client *c, const char *bucket, char *msg, size_t msglen)
{
    waitbox w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, DV_ERR_OK, ""};
    dv_error rc = dv_client_open_bucket(c, bucket, on_open, &w);
    if (rc != DV_ERR_OK) return rc;
    pthread_mutex_lock(&w.mu);
    while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    snprintf(msg, msglen, "%s", w.msg);
    return w.err;
}

static void open_or_die(dv_client *c, const opts *o, const char *what)
{
    char msg[512];
    dv_error rc = open_bucket(c, o->bucket, msg, sizeof msg);
    if (rc != DV_ERR_OK) {
        fprintf(stderr, "divan: %s: bucket %s: ", what, o->bucket);
        print_err_name(stderr, rc);
        fprintf(stderr, " (%s): %s%s%s [%s]\n", dv_error_python_class(rc), dv_strerror(rc),
                msg[0] ? ": " : "", msg, o->url);
        dv_client_close(c);
        exit(1);
    }
}

static const struct {
    const char *name;
    dv_op_kind kind;
    int nargs; /* after KEY: 0, 1 (VALUE) or -1 (specs) */
} commands[] = {
    {"get", DV_KV_GET, 0},           {"upsert", DV_KV_UPSERT, 1},
    {"insert", DV_KV_INSERT, 1},     {"replace", DV_KV_REPLACE, 1},
    {"remove", DV_KV_REMOVE, 0},     {"touch", DV_KV_TOUCH, 0},
    {"lock", DV_KV_GET_AND_LOCK, 0}, {"unlock", DV_KV_UNLOCK, 0},
    {"incr", DV_KV_INCREMENT, 0},    {"decr", DV_KV_DECREMENT, 0},
    {"append", DV_KV_APPEND, 1},     {"prepend", DV_KV_PREPEND, 1},
    {"exists", DV_KV_EXISTS, 0},     {"lookup", DV_KV_LOOKUP_IN, -1},
    {"mutate", DV_KV_MUTATE_IN, -1},
};

static int run_one(const opts *o, int argc, char **argv)
{
    const char *cmd = argv[0];
    int ci = -1;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, cmd)) ci = (int)i;
    if (ci < 0) die_usage("unknown command %s", cmd);
    if (o->memcached) die_usage("--memcached: only with load");
    if (argc < 2) die_usage("%s: a KEY is needed", cmd);
    int nargs = commands[ci].nargs;
    if (nargs == 0 && argc != 2) die_usage("%s takes KEY only", cmd);
    if (nargs == 1 && argc != 3) die_usage("%s takes KEY VALUE", cmd);
    if (nargs < 0 && (argc < 3 || argc - 2 > DV_MAX_SPECS))
        die_usage("%s takes KEY and 1 to %d specs", cmd, DV_MAX_SPECS);

    dv_req q;
    memset(&q, 0, sizeof q);
    q.kind = commands[ci].kind;
    q.bucket = o->bucket;
    q.scope = o->scope;
    q.collection = o->collection;
    q.key = argv[1];
    q.key_len = strlen(argv[1]);
    q.expiry = o->expiry;
    q.cas = o->cas;
    q.durability = o->durability;
    q.timeout_ms = o->timeout_ms;
    q.preserve_expiry = o->preserve_expiry;
    q.with_expiry = o->with_expiry;
    q.lock_time = o->lock_time;
    q.delta = o->delta;
    q.initial = o->initial;
    q.has_initial = o->has_initial;
    q.store_semantics = o->store;
    dv_subdoc_op specs[DV_MAX_SPECS];
    if (nargs == 1) {
        q.value = argv[2];
        q.value_len = strlen(argv[2]);
        if (q.kind != DV_KV_APPEND && q.kind != DV_KV_PREPEND) {
            int js = is_json(q.value, q.value_len);
            q.datatype = js ? DV_DATATYPE_JSON : 0;
            q.flags = o->has_flags ? o->flags : js ? FLAGS_JSON : FLAGS_STRING;
        }
    }
    if (nargs < 0) {
        for (int i = 2; i < argc; i++)
            parse_spec(argv[i], q.kind == DV_KV_MUTATE_IN, o->create_path, &specs[i - 2]);
        q.specs = specs;
        q.nspecs = (size_t)(argc - 2);
    }

    dv_client *c = connect_or_die(o, cmd);
    open_or_die(c, o, cmd);
    one s = {cmd, argv[1], &q, 0};
    dv_error rc = dv_client_run(c, &q, on_one, &s);
    dv_client_close(c);
    if (rc != DV_ERR_OK) {
        fprintf(stderr, "divan: %s %s: ", cmd, argv[1]);
        print_err_name(stderr, rc);
        fprintf(stderr, " (%s): %s (the request was not sent)\n", dv_error_python_class(rc),
                dv_strerror(rc));
        return rc == DV_ERR_INVALID_ARGUMENT ? 2 : 1;
    }
    return s.rc;
}

/* ---- divan query ------------------------------------------------------------------------------
 */

static dv_error rows_http(void *ud, const dv_http_req *req, dv_res_cb cb, void *cb_ud, uint64_t *id)
{
    return dv_client_http(ud, req, cb, cb_ud, id);
}

static void rows_cancel(void *ud, uint64_t id)
{
    dv_client_cancel(ud, id);
}

static void rows_resume(void *ud, uint64_t id)
{
    dv_client_http_resume(ud, id);
}

/* The rows are printed as they arrive (one compact JSON value a line); the status and errors
 * come at the end of the response. */
static int run_query(const opts *o, int argc, char **argv)
{
    if (argc < 2) die_usage("query: a STATEMENT is needed");
    if (o->memcached) die_usage("--memcached: only with load");
    json_t *req = json_object(), *args = json_array();
    json_object_set_new(req, "statement", json_string(argv[1]));
    for (int i = 2; i < argc; i++) {
        json_error_t je;
        json_t *v = json_loads(argv[i], JSON_DECODE_ANY, &je);
        json_array_append_new(args, v ? v : json_string(argv[i]));
    }
    if (json_array_size(args)) json_object_set(req, "args", args);
    json_decref(args);
    uint64_t timeout_ms = o->timeout_ms ? o->timeout_ms : 75000;
    char t[32];
    snprintf(t, sizeof t, "%" PRIu64 "ms", timeout_ms > 5000 ? timeout_ms - 500 : timeout_ms);
    json_object_set_new(req, "timeout", json_string(t));
    if (o->scope) {
        char ctx[512];
        snprintf(ctx, sizeof ctx, "`%s`.`%s`", o->bucket, o->scope);
        json_object_set_new(req, "query_context", json_string(ctx));
    }
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!body) die_usage("query: the statement is not UTF-8");
    dv_http_req q = {.service = DV_HTTP_QUERY,
                     .method = "POST",
                     .path = "/query/service",
                     .body = body,
                     .body_len = strlen(body),
                     .content_type = "application/json",
                     .timeout_ms = timeout_ms};
    dv_client *c = connect_or_die(o, "query");
    dv_rows_io io = {.ud = c, .http = rows_http, .cancel = rows_cancel, .resume = rows_resume};
    dv_rows *rows = NULL;
    dv_error rc = dv_rows_new(&q, &io, &rows);
    const char *row;
    size_t len;
    while (rc == DV_ERR_OK && dv_rows_next(rows, &row, &len, 1) == 1) {
        json_error_t je;
        json_t *v = json_loadb(row, len, JSON_DECODE_ANY, &je);
        char *line = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (line)
            puts(line);
        else
            printf("%.*s\n", (int)len, row);
        free(line);
        json_decref(v);
    }
    fflush(stdout);
    const dv_res *res = rc == DV_ERR_OK ? dv_rows_result(rows) : NULL;
    dv_error e = rc != DV_ERR_OK ? rc : res->err;
    free(body);
    if (e != DV_ERR_OK) {
        const char *node = res && res->ctx && res->ctx->node[0] ? res->ctx->node : "none";
        fprintf(stderr, "divan: query: ");
        print_err_name(stderr, e);
        fprintf(stderr, " (%s): %s [node %s, %.1f ms]\n", dv_error_python_class(e), dv_strerror(e),
                node, (double)(res && res->ctx ? res->ctx->elapsed_us : 0) / 1000.0);
        dv_rows_free(rows);
        dv_client_close(c);
        return 1;
    }
    json_error_t je;
    json_t *doc = json_loadb(res->value ? res->value : "", res->value_len, 0, &je);
    json_t *st = doc ? json_object_get(doc, "status") : NULL;
    int ok = st && json_is_string(st) && !strcmp(json_string_value(st), "success");
    if (!doc) {
        fprintf(stderr, "divan: query: parsing_failure: the response (HTTP %d) is not JSON\n",
                res->http_status);
    } else if (!ok) {
        json_t *e0 = json_array_get(json_object_get(doc, "errors"), 0);
        json_t *code = json_object_get(e0, "code"), *msg = json_object_get(e0, "msg");
        fprintf(stderr, "divan: query: %s: %" JSON_INTEGER_FORMAT " %s\n",
                st && json_is_string(st) ? json_string_value(st) : "failed",
                json_is_integer(code) ? json_integer_value(code) : 0,
                json_is_string(msg) ? json_string_value(msg) : "(no message)");
    }
    json_decref(doc);
    dv_rows_free(rows);
    dv_client_close(c);
    return ok ? 0 : 1;
}

/* ---- divan load -------------------------------------------------------------------------------
 */

/* Latencies in log-linear buckets (HDR-like): 16 sub-buckets per power of two of microseconds,
 * within about 6%. */
#define SUB   16
#define NEXP  40
#define NHIST (NEXP * SUB)

static unsigned hist_index(uint64_t us)
{
    if (us < SUB) return (unsigned)us;
    unsigned msb = 63 - (unsigned)__builtin_clzll(us);
    unsigned e = msb - 3; /* us in [2^msb, 2^(msb+1)): 16 sub-buckets */
    unsigned sub = (unsigned)(us >> (msb - 4)) & (SUB - 1);
    unsigned i = e * SUB + sub;
    return i < NHIST ? i : NHIST - 1;
}

/* The upper bound of bucket i in microseconds. */
static uint64_t hist_value(unsigned i)
{
    if (i < SUB) return i;
    unsigned e = i / SUB, sub = i % SUB, msb = e + 3;
    return ((uint64_t)(SUB + sub) << (msb - 4)) + ((1ull << (msb - 4)) - 1);
}

#define MAX_ERR_KINDS 32

typedef struct lstats {
    _Atomic uint64_t ops, errors; /* read by the progress line */
    uint64_t gets, sets;
    uint64_t hist[NHIST];
    uint64_t max_us;
    struct {
        dv_error err;
        uint64_t n;
    } errs[MAX_ERR_KINDS];
} lstats;

typedef struct loader loader;

/* --memcached: a request on the wire, awaiting its response. */
typedef struct mc_req {
    uint64_t t0;
    uint32_t opaque;
    int set;
} mc_req;

typedef struct lconn {
    loader *L;
    dv_client *c;
    unsigned idx;
    lstats st;
    _Atomic uint64_t next_key; /* populate: the next key of this connection's share */
    _Atomic unsigned active;   /* slots not done yet */
    /* --memcached: the connection's thread, socket, buffers and the requests on the wire (a ring
     * of --in-flight entries: responses come back in order). */
    pthread_t thread;
    int fd;
    dv_buf in, out;
    mc_req *ring;
    uint32_t opaque;
    uint64_t rng;
} lconn;

typedef struct slot {
    lconn *lc;
    uint64_t t0;
    uint64_t rng;
    int set;
} slot;

struct loader {
    const opts *o;
    char host[256], port[32]; /* --memcached */
    lconn *conns;
    slot *slots;
    uint8_t *doc;
    size_t doclen;
    int populating;
    uint64_t deadline_ns;
    _Atomic uint64_t issued; /* --ops */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned active_conns;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void add_errors(lstats *st, dv_error e, uint64_t n)
{
    for (int i = 0; i < MAX_ERR_KINDS; i++) {
        if (!st->errs[i].n || st->errs[i].err == e) {
            st->errs[i].err = e;
            st->errs[i].n += n;
            return;
        }
    }
}

static void count_error(lstats *st, dv_error e)
{
    atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
    add_errors(st, e, 1);
}

static void on_load(void *ud, const dv_res *r);

static void conn_done(lconn *lc)
{
    loader *L = lc->L;
    pthread_mutex_lock(&L->mu);
    L->active_conns--;
    pthread_cond_signal(&L->cv);
    pthread_mutex_unlock(&L->mu);
}

/* The connection's next operation: its key in key[256] and whether it is a set; the key's length,
 * or 0 when the phase is over for this connection. */
static size_t next_op(lconn *lc, uint64_t *rng, char *key, int *set)
{
    loader *L = lc->L;
    const opts *o = L->o;
    uint64_t k;
    if (L->populating) {
        k = atomic_fetch_add(&lc->next_key, o->connections);
        if (k >= o->keys) return 0;
        *set = 1;
    } else {
        if (o->ops) {
            if (atomic_fetch_add_explicit(&L->issued, 1, memory_order_relaxed) >= o->ops) return 0;
        } else if (now_ns() >= L->deadline_ns) {
            return 0;
        }
        k = xorshift(rng) % o->keys;
        *set = (unsigned)(xorshift(rng) % 100) >= o->ratio;
    }
    return (size_t)snprintf(key, 256, "%s%" PRIu64, o->prefix, k); /* run_load bounds the prefix */
}

/* One completed operation: counted in the connection's statistics (errors also while
 * populating, the rest only under load). */
static void record(lconn *lc, uint64_t t0, int set, dv_error err)
{
    if (!lc->L->populating) {
        uint64_t us = (now_ns() - t0) / 1000;
        lstats *st = &lc->st;
        atomic_fetch_add_explicit(&st->ops, 1, memory_order_relaxed);
        if (set)
            st->sets++;
        else
            st->gets++;
        st->hist[hist_index(us)]++;
        if (us > st->max_us) st->max_us = us;
    }
    if (err != DV_ERR_OK) count_error(&lc->st, err);
}

/* Issue the slot's next operation; 0 if the slot is done. */
static int issue(slot *s)
{
    lconn *lc = s->lc;
    loader *L = lc->L;
    const opts *o = L->o;
    char key[256];
    int set;
    size_t kl = next_op(lc, &s->rng, key, &set);
    if (!kl) return 0;
    dv_req q;
    memset(&q, 0, sizeof q);
    q.kind = set ? DV_KV_UPSERT : DV_KV_GET;
    q.bucket = o->bucket;
    q.scope = o->scope;
    q.collection = o->collection;
    q.key = key;
    q.key_len = kl;
    q.timeout_ms = o->timeout_ms;
    q.durability = o->durability;
    q.expiry = o->expiry;
    if (set) {
        q.value = L->doc;
        q.value_len = L->doclen;
        q.datatype = DV_DATATYPE_JSON;
        q.flags = FLAGS_JSON;
    }
    s->set = set;
    s->t0 = now_ns();
    dv_error rc = dv_client_submit(lc->c, &q, on_load, s);
    if (rc != DV_ERR_OK) {
        count_error(&lc->st, rc);
        return 0;
    }
    return 1;
}

static void on_load(void *ud, const dv_res *r)
{
    slot *s = ud;
    lconn *lc = s->lc;
    record(lc, s->t0, s->set, r->err);
    if (!issue(s) && atomic_fetch_sub(&lc->active, 1) == 1) conn_done(lc);
}

/* ---- divan load --memcached: the same load on memcached's plain binary protocol, one thread
 * and blocking socket per connection. Responses are decoded by the mcbp frame codec. */

#define MC_TIMEOUT_MS 10000 /* the wait for a response without --timeout */

/* A fatal error of a connection: one line, exit 1. */
static void mc_die(const lconn *lc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void mc_die(const lconn *lc, const char *fmt, ...)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu); /* one line, even if several connections fail at once */
    va_list ap;
    va_start(ap, fmt);
    const char *h = lc->L->host;
    int v6 = strchr(h, ':') != NULL;
    fprintf(stderr, "divan: load: memcached %s%s%s:%s: ", v6 ? "[" : "", h, v6 ? "]" : "",
            lc->L->port);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* The first host of --url, by the connection string parser; its port, or memcached's 11211. */
static void mc_parse_url(loader *L, const char *url)
{
    dv_connstr *cs;
    char err[256];
    if (dv_connstr_parse(url, strlen(url), &cs, err, sizeof err) != 0) die_usage("--url: %s", err);
    const dv_connstr_host *h = &cs->hosts[0];
    snprintf(L->host, sizeof L->host, "%s", h->host);
    snprintf(L->port, sizeof L->port, "%u", h->port_given ? (unsigned)h->port : 11211u);
    dv_connstr_free(cs);
}

static void mc_connect(lconn *lc)
{
    loader *L = lc->L;
    struct addrinfo hints, *res, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(L->host, L->port, &hints, &res);
    if (rc) mc_die(lc, "%s", gai_strerror(rc));
    int err = 0;
    lc->fd = -1;
    for (ai = res; ai && lc->fd < 0; ai = ai->ai_next) {
        lc->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (lc->fd >= 0 && connect(lc->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            err = errno;
            close(lc->fd);
            lc->fd = -1;
        }
    }
    freeaddrinfo(res);
    if (lc->fd < 0) mc_die(lc, "cannot connect: %s", strerror(err ? err : errno));
    int nodelay = 1;
    uint64_t ms = L->o->timeout_ms ? L->o->timeout_ms : MC_TIMEOUT_MS;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    if (setsockopt(lc->fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay) != 0 ||
        setsockopt(lc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
        mc_die(lc, "setsockopt: %s", strerror(errno));
}

static void mc_read(lconn *lc);
static void mc_flush(lconn *lc);

/* One request and its response before the load (--sasl); a failure is fatal. */
static void mc_call(lconn *lc, uint8_t opcode, const char *key, const void *value, size_t vlen)
{
    dv_frame f;
    memset(&f, 0, sizeof f);
    f.magic = DV_MAGIC_REQ;
    f.opcode = opcode;
    f.opaque = ++lc->opaque;
    f.key = (const uint8_t *)key;
    f.key_len = strlen(key);
    f.value = value;
    f.value_len = vlen;
    if (dv_frame_encode(&lc->out, &f) != DV_MCBP_OK) mc_die(lc, "out of memory");
    mc_flush(lc);
    size_t used;
    int rc;
    while ((rc = dv_frame_decode(dv_buf_head(&lc->in), dv_buf_size(&lc->in),
                                 DV_FRAME_DEFAULT_MAX_BODY, &f, &used)) == DV_MCBP_NEED_MORE)
        mc_read(lc);
    if (rc < 0) mc_die(lc, "bad response: %s", dv_mcbp_strerror(rc));
    if (f.status)
        mc_die(lc, "%s: %s", opcode == DV_OP_SASL_AUTH ? "authentication" : "bucket",
               dv_strerror(dv_mcbp_status_error(opcode, f.status)));
    dv_buf_consume(&lc->in, used);
}

/* --sasl: SASL PLAIN as --user, then SELECT_BUCKET --bucket. */
static void mc_login(lconn *lc)
{
    const opts *o = lc->L->o;
    size_t ul = strlen(o->user), pl = strlen(o->password);
    char *msg = malloc(ul + pl + 2);
    if (!msg) mc_die(lc, "out of memory");
    msg[0] = '\0';
    memcpy(msg + 1, o->user, ul);
    msg[1 + ul] = '\0';
    memcpy(msg + 2 + ul, o->password, pl);
    mc_call(lc, DV_OP_SASL_AUTH, "PLAIN", msg, ul + pl + 2);
    free(msg);
    mc_call(lc, DV_OP_SELECT_BUCKET, o->bucket, NULL, 0);
}

/* Append the connection's next request to its output; 0 when the phase is over for it. */
static int mc_issue(lconn *lc, mc_req *r)
{
    loader *L = lc->L;
    char key[256];
    size_t kl = next_op(lc, &lc->rng, key, &r->set);
    if (!kl) return 0;
    uint8_t extras[8] = {0}; /* flags 0, then the expiry (big-endian) */
    for (int i = 0; i < 4; i++) extras[4 + i] = (uint8_t)(L->o->expiry >> (24 - 8 * i));
    dv_frame f;
    memset(&f, 0, sizeof f); /* vbucket 0, datatype raw, CAS 0 */
    f.magic = DV_MAGIC_REQ;
    f.opcode = r->set ? DV_OP_SET : DV_OP_GET;
    f.opaque = r->opaque = ++lc->opaque;
    f.key = (const uint8_t *)key;
    f.key_len = kl;
    if (r->set) {
        f.extras = extras;
        f.extras_len = sizeof extras;
        f.value = L->doc;
        f.value_len = L->doclen;
    }
    if (dv_frame_encode(&lc->out, &f) != DV_MCBP_OK) mc_die(lc, "out of memory");
    r->t0 = now_ns();
    return 1;
}

/* Read what is available (blocking until something is), appending to lc->in. */
static void mc_read(lconn *lc)
{
    uint8_t *p = dv_buf_reserve(&lc->in, 65536);
    if (!p) mc_die(lc, "out of memory");
    ssize_t n;
    do n = read(lc->fd, p, 65536);
    while (n < 0 && errno == EINTR);
    if (n == 0) mc_die(lc, "connection closed by the server");
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        mc_die(lc, "no response within %" PRIu64 " ms",
               lc->L->o->timeout_ms ? lc->L->o->timeout_ms : MC_TIMEOUT_MS);
    if (n < 0) mc_die(lc, "read: %s", strerror(errno));
    dv_buf_commit(&lc->in, (size_t)n);
}

/* Write all of lc->out. Responses are read meanwhile when the socket is full, so that a window
 * larger than the socket buffers cannot deadlock with a server waiting for us to read. */
static void mc_flush(lconn *lc)
{
    while (dv_buf_size(&lc->out) > 0) {
        ssize_t n =
            send(lc->fd, dv_buf_head(&lc->out), dv_buf_size(&lc->out), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            dv_buf_consume(&lc->out, (size_t)n);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            struct pollfd p = {lc->fd, POLLIN | POLLOUT, 0};
            if (poll(&p, 1, -1) > 0 && (p.revents & POLLIN)) mc_read(lc);
        } else if (errno != EINTR) {
            mc_die(lc, "write: %s", strerror(errno));
        }
    }
}

/* A connection's phase: keep --in-flight requests on the wire until the phase is over for it. */
static void *mc_run(void *arg)
{
    lconn *lc = arg;
    unsigned win = lc->L->o->in_flight, head = 0, n = 0; /* on the wire: ring[head..head+n) */
    while (n < win && mc_issue(lc, &lc->ring[(head + n) % win])) n++;
    while (n > 0) {
        /* Every complete response answers the oldest request and makes room for one more. */
        dv_frame f;
        size_t used;
        int rc = dv_frame_decode(dv_buf_head(&lc->in), dv_buf_size(&lc->in),
                                 DV_FRAME_DEFAULT_MAX_BODY, &f, &used);
        if (rc < 0) mc_die(lc, "bad response: %s", dv_mcbp_strerror(rc));
        if (rc == DV_MCBP_NEED_MORE) {
            mc_flush(lc); /* the requests issued since the last read, in one write */
            mc_read(lc);
            continue;
        }
        mc_req *r = &lc->ring[head];
        if (f.magic != DV_MAGIC_RES) mc_die(lc, "response with magic 0x%02x", f.magic);
        if (f.opaque != r->opaque || f.opcode != (r->set ? DV_OP_SET : DV_OP_GET))
            mc_die(lc,
                   "unexpected response (opcode 0x%02x, opaque %" PRIu32
                   "; expected opaque %" PRIu32 ")",
                   f.opcode, f.opaque, r->opaque);
        record(lc, r->t0, r->set, f.status ? dv_mcbp_status_error(f.opcode, f.status) : DV_ERR_OK);
        dv_buf_consume(&lc->in, used);
        head = (head + 1) % win;
        n--;
        if (mc_issue(lc, &lc->ring[(head + n) % win])) n++;
    }
    if (dv_buf_size(&lc->in) > 0) mc_die(lc, "unexpected bytes after the last response");
    conn_done(lc);
    return NULL;
}

/* Start every slot of every connection and wait until all are done. */
static void load_phase(loader *L, uint64_t start)
{
    const opts *o = L->o;
    unsigned nconn = o->connections, nslot = o->in_flight;
    L->active_conns = nconn;
    for (unsigned i = 0; i < nconn; i++) atomic_store(&L->conns[i].active, nslot);
    if (o->memcached) {
        for (unsigned i = 0; i < nconn; i++)
            if (pthread_create(&L->conns[i].thread, NULL, mc_run, &L->conns[i]) != 0)
                mc_die(&L->conns[i], "cannot start a thread");
    }
    /* Completions may arrive on the driver threads while this thread is still starting slots:
     * whoever brings a connection's count of live slots to zero reports it done. */
    for (unsigned i = 0; i < nconn && !o->memcached; i++) {
        lconn *lc = &L->conns[i];
        for (unsigned j = 0; j < nslot; j++)
            if (!issue(&L->slots[i * nslot + j]) && atomic_fetch_sub(&lc->active, 1) == 1)
                conn_done(lc);
    }
    int tty = isatty(2);
    uint64_t last_ops = 0, last_t = start;
    pthread_mutex_lock(&L->mu);
    while (L->active_conns > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        int rc = pthread_cond_timedwait(&L->cv, &L->mu, &ts);
        if (rc == ETIMEDOUT && !o->quiet && !L->populating) {
            uint64_t ops = 0, errs = 0, t = now_ns();
            for (unsigned i = 0; i < nconn; i++) {
                ops += atomic_load_explicit(&L->conns[i].st.ops, memory_order_relaxed);
                errs += atomic_load_explicit(&L->conns[i].st.errors, memory_order_relaxed);
            }
            double rate = (double)(ops - last_ops) * 1e9 / (double)(t - last_t);
            fprintf(stderr, "%s[%5.1fs] %10.0f ops/s  total %" PRIu64 "  errors %" PRIu64 "%s",
                    tty ? "\r" : "", (double)(t - start) / 1e9, rate, ops, errs,
                    tty ? "   " : "\n");
            fflush(stderr);
            last_ops = ops;
            last_t = t;
        }
    }
    pthread_mutex_unlock(&L->mu);
    for (unsigned i = 0; i < nconn && o->memcached; i++) pthread_join(L->conns[i].thread, NULL);
    if (tty && !o->quiet && !L->populating) fputc('\n', stderr);
}

static int run_load(opts *o, int argc, char **argv)
{
    (void)argv;
    if (argc > 1) die_usage("load takes no arguments");
    if (o->connections < 1 || o->connections > 1024) die_usage("--connections: 1 to 1024");
    if (o->in_flight < 1 || o->in_flight > 100000) die_usage("--in-flight: 1 to 100000");
    if (o->ratio > 100) die_usage("--ratio: 0 to 100");
    if (o->keys < 1) die_usage("--keys: at least 1");
    if (strlen(o->prefix) > 200) die_usage("--prefix: at most 200 bytes");
    if (o->sasl && !o->memcached) die_usage("--sasl: only with --memcached");
    if (o->memcached && (o->scope || o->durability))
        die_usage("--memcached: memcached has no collections or durability");

    loader L;
    memset(&L, 0, sizeof L);
    L.o = o;
    pthread_mutex_init(&L.mu, NULL);
    pthread_cond_init(&L.cv, NULL);
    /* A JSON document of --size bytes: {"data":"xxx..."}. */
    L.doclen = o->size < 12 ? 12 : o->size;
    L.doc = malloc(L.doclen);
    L.conns = calloc(o->connections, sizeof *L.conns);
    L.slots = calloc((size_t)o->connections * o->in_flight, sizeof *L.slots);
    if (!L.doc || !L.conns || !L.slots) {
        fprintf(stderr, "divan: load: out of memory\n");
        return 1;
    }
    memcpy(L.doc, "{\"data\":\"", 9);
    memset(L.doc + 9, 'x', L.doclen - 11);
    memcpy(L.doc + L.doclen - 2, "\"}", 2);
    if (o->memcached) mc_parse_url(&L, o->url);

    for (unsigned i = 0; i < o->connections; i++) {
        lconn *lc = &L.conns[i];
        lc->L = &L;
        lc->idx = i;
        atomic_store(&lc->next_key, i);
        lc->rng = 0x9e3779b97f4a7c15ull * ((uint64_t)i * o->in_flight + 1);
        if (o->memcached) {
            lc->ring = calloc(o->in_flight, sizeof *lc->ring);
            if (!lc->ring) {
                fprintf(stderr, "divan: load: out of memory\n");
                return 1;
            }
            mc_connect(lc);
            if (o->sasl) mc_login(lc);
        } else {
            lc->c = connect_or_die(o, "load");
            open_or_die(lc->c, o, "load");
        }
        for (unsigned j = 0; j < o->in_flight; j++) {
            slot *s = &L.slots[(size_t)i * o->in_flight + j];
            s->lc = lc;
            s->rng = 0x9e3779b97f4a7c15ull * ((uint64_t)i * o->in_flight + j + 1);
        }
    }
    uint64_t populate_errors = 0;
    if (!o->no_populate) {
        L.populating = 1;
        uint64_t t = now_ns();
        if (!o->quiet) fprintf(stderr, "populating %" PRIu64 " keys...\n", o->keys);
        load_phase(&L, t);
        for (unsigned i = 0; i < o->connections; i++) {
            populate_errors += L.conns[i].st.errors;
            atomic_store(&L.conns[i].st.errors, 0);
            memset(L.conns[i].st.errs, 0, sizeof L.conns[i].st.errs);
        }
        if (populate_errors && !o->quiet)
            fprintf(stderr, "populating: %" PRIu64 " operations failed\n", populate_errors);
        L.populating = 0;
    }
    uint64_t start = now_ns();
    L.deadline_ns = start + (uint64_t)(o->duration * 1e9);
    load_phase(&L, start);
    uint64_t elapsed = now_ns() - start;

    for (unsigned i = 0; i < o->connections; i++) {
        lconn *lc = &L.conns[i];
        if (o->memcached) {
            close(lc->fd);
            dv_buf_free(&lc->in);
            dv_buf_free(&lc->out);
            free(lc->ring);
        } else {
            dv_client_close(lc->c);
        }
    }

    /* Merge. */
    lstats *t = &L.conns[0].st;
    for (unsigned i = 1; i < o->connections; i++) {
        lstats *s = &L.conns[i].st;
        t->ops += s->ops;
        t->errors += s->errors;
        t->gets += s->gets;
        t->sets += s->sets;
        for (unsigned j = 0; j < NHIST; j++) t->hist[j] += s->hist[j];
        if (s->max_us > t->max_us) t->max_us = s->max_us;
        for (int k = 0; k < MAX_ERR_KINDS && s->errs[k].n; k++)
            add_errors(t, s->errs[k].err, s->errs[k].n);
    }
    static const double pct[] = {50, 90, 99, 99.9};
    uint64_t pv[4] = {0, 0, 0, 0};
    uint64_t total = t->ops;
    for (int p = 0; p < 4; p++) {
        uint64_t want = (uint64_t)ceil((double)total * pct[p] / 100.0), acc = 0;
        for (unsigned j = 0; j < NHIST; j++) {
            acc += t->hist[j];
            if (acc >= want && want) {
                pv[p] = hist_value(j);
                break;
            }
        }
        if (pv[p] > t->max_us) pv[p] = t->max_us;
    }
    double secs = (double)elapsed / 1e9, rate = secs > 0 ? (double)total / secs : 0;
    if (o->json) {
        printf("{\"ops\":%" PRIu64 ",\"gets\":%" PRIu64 ",\"sets\":%" PRIu64
               ",\"seconds\":%.3f,\"ops_per_sec\":%.0f,\"connections\":%u,\"in_flight\":%u,"
               "\"latency_us\":{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64
               ",\"p99.9\":%" PRIu64 ",\"max\":%" PRIu64 "},\"errors\":%" PRIu64
               ",\"populate_errors\":%" PRIu64 ",\"errors_by_kind\":{",
               total, t->gets, t->sets, secs, rate, o->connections, o->in_flight, pv[0], pv[1],
               pv[2], pv[3], t->max_us, t->errors, populate_errors);
        for (int k = 0; k < MAX_ERR_KINDS && t->errs[k].n; k++) {
            printf("%s\"", k ? "," : "");
            print_err_name(stdout, t->errs[k].err);
            printf("\":%" PRIu64, t->errs[k].n);
        }
        printf("}}\n");
    } else {
        printf("%" PRIu64 " ops in %.2f s: %.0f ops/s (%" PRIu64 " gets, %" PRIu64
               " upserts; %u connections x %u in flight)\n",
               total, secs, rate, t->gets, t->sets, o->connections, o->in_flight);
        printf("latency (us): p50 %" PRIu64 "  p90 %" PRIu64 "  p99 %" PRIu64 "  p99.9 %" PRIu64
               "  max %" PRIu64 "\n",
               pv[0], pv[1], pv[2], pv[3], t->max_us);
        printf("errors: %" PRIu64, t->errors);
        for (int k = 0; k < MAX_ERR_KINDS && t->errs[k].n; k++) {
            printf("%s", k ? ", " : " (");
            print_err_name(stdout, t->errs[k].err);
            printf(" %" PRIu64, t->errs[k].n);
        }
        printf("%s\n", t->errors ? ")" : "");
    }
    fflush(stdout);
    int failed = t->errors > 0 || populate_errors > 0;
    free(L.doc);
    free(L.conns);
    free(L.slots);
    pthread_mutex_destroy(&L.mu);
    pthread_cond_destroy(&L.cv);
    return failed && !o->allow_errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    opts o;
    memset(&o, 0, sizeof o);
    int first = parse_opts(argc, argv, &o);
    if (first >= argc) die_usage("a COMMAND is needed");
    int rc = !strcmp(argv[first], "load")    ? run_load(&o, argc - first, argv + first)
             : !strcmp(argv[first], "query") ? run_query(&o, argc - first, argv + first)
                                             : run_one(&o, argc - first, argv + first);
    free(o.scope);
    free(o.collection);
    return rc;
}
