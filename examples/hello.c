/* A C program on libdivan's public API: connect, upsert a document, read it back.
 *   build/bin/hello [couchbase://127.0.0.1]   (user Administrator/password, bucket default) */
#include <divan/divan.h>
#include <stdio.h>
#include <string.h>

static void on_upsert(void *ud, const dv_res *res)
{
    (void)ud;
    if (res->err)
        fprintf(stderr, "upsert: %s\n", dv_strerror(res->err));
    else
        printf("upsert: cas 0x%llx\n", (unsigned long long)res->cas);
}

static void on_get(void *ud, const dv_res *res)
{
    *(dv_error *)ud = res->err;
    if (res->err)
        fprintf(stderr, "get: %s\n", dv_strerror(res->err));
    else
        printf("get: %.*s\n", (int)res->value_len, (const char *)res->value);
}

int main(int argc, char **argv)
{
    dv_client_opts opts = {0};
    opts.connstr = argc > 1 ? argv[1] : "couchbase://127.0.0.1";
    opts.username = "Administrator";
    opts.password = "password";
    char err[256];
    dv_client *c;
    if (dv_client_new(&opts, &c, err, sizeof err) != DV_ERR_OK) {
        fprintf(stderr, "hello: %s\n", err);
        return 1;
    }
    static const char doc[] = "{\"name\":\"Ted\",\"age\":80}";
    dv_req req = {0};
    req.kind = DV_KV_UPSERT;
    req.bucket = "default";
    req.key = "doc1";
    req.key_len = 4;
    req.value = doc;
    req.value_len = strlen(doc);
    req.flags = 0x02000000; /* JSON, in the SDKs' common flags */
    req.datatype = 0x01;
    dv_error rc = dv_client_run(c, &req, on_upsert, NULL);
    dv_error got = DV_ERR_OK;
    if (rc == DV_ERR_OK) {
        dv_req get = {0};
        get.kind = DV_KV_GET;
        get.bucket = "default";
        get.key = "doc1";
        get.key_len = 4;
        rc = dv_client_run(c, &get, on_get, &got);
    }
    dv_client_close(c);
    return rc != DV_ERR_OK || got != DV_ERR_OK;
}
