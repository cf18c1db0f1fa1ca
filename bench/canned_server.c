/*
 * canned_server: a tiny, fast HTTP/1.1 server on 127.0.0.1 for bench/run.sh.
 *
 * It plays both halves of the GitHub-path job with canned bodies, so the
 * benchmark measures the clients, not the servers:
 *   GET  /token?...          (Authorization: bearer <request token>)
 *        -> 200 application/json  <contents of TOKEN_JSON_FILE>
 *        -> 401 when the bearer token is missing or wrong
 *   POST /  Action=AssumeRoleWithWebIdentity&...&WebIdentityToken=...
 *        -> 200 text/xml          <contents of STS_XML_FILE>
 *        -> 400 ErrorResponse XML for any other action / missing token
 *   GET  /healthz -> 200 "ok";  GET /_stats -> "token=N sts=N bad=N tls=N"
 *        (tls = TLS handshakes completed)
 * Every response carries "Connection: close"; each connection gets its own
 * detached thread, so a client that parks an idle pooled connection can
 * never block the next one.  It counts the requests it answered and prints
 * the counters to stderr on SIGTERM/SIGINT.
 *
 *   canned_server [--bind ADDR] [--tls CERT_PEM KEY_PEM]
 *                 PORT_FILE TOKEN_JSON_FILE STS_XML_FILE REQUEST_TOKEN
 *
 * Binds an ephemeral port on ADDR (default 127.0.0.1; any 127.x.y.z is
 * loopback on Linux), writes it to PORT_FILE (atomically) and serves until
 * killed.  With --tls every connection is TLS (OpenSSL defaults: TLS 1.2/1.3,
 * the certificate chain in CERT_PEM, the leaf first).
 *   Build: cc -O2 -pthread -o canned_server canned_server.c
 *   TLS:   cc -O2 -pthread -DCANNED_TLS -o canned_server canned_server.c -lssl -lcrypto
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef CANNED_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

#define MAX_REQ (256 * 1024)

static char *token_body, *sts_body, *request_token;
static size_t token_len, sts_len;
static atomic_long n_token, n_sts, n_bad, n_tls;

/* One client connection: a socket, and its TLS session when serving TLS. */
struct conn {
    int fd;
#ifdef CANNED_TLS
    SSL *ssl;
#endif
};
#ifdef CANNED_TLS
static SSL_CTX *tls_ctx;
#endif

static ssize_t conn_recv(struct conn *c, char *p, size_t n) {
#ifdef CANNED_TLS
    if (c->ssl) {
        int r = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
        return r > 0 ? r : (SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN ? 0 : -1);
    }
#endif
    return recv(c->fd, p, n, 0);
}

static ssize_t conn_send(struct conn *c, const char *p, size_t n) {
#ifdef CANNED_TLS
    if (c->ssl) {
        int w = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
        return w > 0 ? w : -1;
    }
#endif
    return send(c->fd, p, n, MSG_NOSIGNAL);
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(2); }
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int write_all(struct conn *c, const char *p, size_t n) {
    while (n) {
        ssize_t w = conn_send(c, p, n);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        p += w; n -= (size_t)w;
    }
    return 0;
}

static void respond(struct conn *fd, int status, const char *reason, const char *ctype,
                    const char *body, size_t blen) {
    char head[512];
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "x-amzn-RequestId: 00000000-0000-4000-8000-000000000000\r\n"
                     "Connection: close\r\n\r\n",
                     status, reason, ctype, blen);
    /* one write for head+body when small: fewer packets for the client to wait on */
    if ((size_t)h + blen <= 16384) {
        char buf[16384];
        memcpy(buf, head, (size_t)h);
        memcpy(buf + h, body, blen);
        write_all(fd, buf, (size_t)h + blen);
    } else {
        write_all(fd, head, (size_t)h);
        write_all(fd, body, blen);
    }
}

/* case-insensitive search for header NAME in the header block; returns value start */
static const char *header(const char *hdrs, const char *end, const char *name) {
    size_t nl = strlen(name);
    for (const char *p = hdrs; p && p < end; ) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol) eol = end;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) v++;
            return v;
        }
        p = eol + 2;
    }
    return NULL;
}

static void handle(struct conn *fd) {
    static const char bad_xml[] =
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
        "<Type>Sender</Type><Code>InvalidAction</Code>"
        "<Message>canned_server only answers AssumeRoleWithWebIdentity</Message>"
        "</Error><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>";
    char *buf = malloc(MAX_REQ + 1);
    size_t n = 0;
    char *hend = NULL;
    while (!hend) {
        if (n >= MAX_REQ) goto out;
        ssize_t r = conn_recv(fd, buf + n, MAX_REQ - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) goto out;
        n += (size_t)r;
        buf[n] = 0;
        hend = memmem(buf, n, "\r\n\r\n", 4);
    }
    const char *hdrs = memchr(buf, '\n', (size_t)(hend - buf));
    hdrs = hdrs ? hdrs + 1 : hend;
    size_t clen = 0;
    const char *cl = header(hdrs, hend, "Content-Length");
    if (cl) clen = strtoul(cl, NULL, 10);
    size_t need = (size_t)(hend + 4 - buf) + clen;
    if (need > MAX_REQ) goto out;
    while (n < need) { /* read the whole body so close() never RSTs unread data */
        ssize_t r = conn_recv(fd, buf + n, need - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) goto out;
        n += (size_t)r;
    }
    buf[n] = 0;
    char *body = hend + 4;

    if (strncmp(buf, "GET /token", 10) == 0) {
        const char *auth = header(hdrs, hend, "Authorization");
        size_t tl = strlen(request_token);
        if (auth && strncasecmp(auth, "bearer ", 7) == 0 &&
            strncmp(auth + 7, request_token, tl) == 0 &&
            (auth[7 + tl] == '\r' || auth[7 + tl] == ' ')) {
            atomic_fetch_add(&n_token, 1);
            respond(fd, 200, "OK", "application/json; charset=utf-8", token_body, token_len);
        } else {
            atomic_fetch_add(&n_bad, 1);
            static const char msg[] = "{\"message\":\"Bad credentials\"}";
            respond(fd, 401, "Unauthorized", "application/json", msg, sizeof msg - 1);
        }
    } else if (strncmp(buf, "GET /healthz", 12) == 0) {
        respond(fd, 200, "OK", "text/plain", "ok\n", 3);
    } else if (strncmp(buf, "GET /_stats", 11) == 0) {
        char st[128];
        int m = snprintf(st, sizeof st, "token=%ld sts=%ld bad=%ld tls=%ld\n",
                         atomic_load(&n_token), atomic_load(&n_sts), atomic_load(&n_bad),
                         atomic_load(&n_tls));
        respond(fd, 200, "OK", "text/plain", st, (size_t)m);
    } else if (strncmp(buf, "POST ", 5) == 0 &&
               strstr(body, "Action=AssumeRoleWithWebIdentity") &&
               strstr(body, "WebIdentityToken=") && strstr(body, "RoleArn=")) {
        atomic_fetch_add(&n_sts, 1);
        respond(fd, 200, "OK", "text/xml", sts_body, sts_len);
    } else {
        atomic_fetch_add(&n_bad, 1);
        respond(fd, 400, "Bad Request", "text/xml", bad_xml, sizeof bad_xml - 1);
    }
#ifdef CANNED_TLS
    if (fd->ssl) SSL_shutdown(fd->ssl); /* close_notify, as a real server sends */
#endif
    shutdown(fd->fd, SHUT_WR);
    /* drain until the client closes (bounded), then close: a clean FIN, no RST */
    struct timeval tv = {1, 0};
    setsockopt(fd->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (recv(fd->fd, buf, MAX_REQ, 0) > 0) {}
out:
    free(buf);
}

static void serve_fd(int fd) {
    struct conn c = {.fd = fd};
#ifdef CANNED_TLS
    if (tls_ctx) {
        c.ssl = SSL_new(tls_ctx);
        if (!c.ssl || !SSL_set_fd(c.ssl, fd) || SSL_accept(c.ssl) != 1) {
            atomic_fetch_add(&n_bad, 1);
            if (c.ssl) SSL_free(c.ssl);
            close(fd);
            return;
        }
        atomic_fetch_add(&n_tls, 1);
    }
#endif
    handle(&c);
#ifdef CANNED_TLS
    if (c.ssl) SSL_free(c.ssl);
#endif
    close(fd);
}

static void *conn_thread(void *arg) {
    serve_fd((int)(long)arg);
    return NULL;
}

static void on_signal(int sig) {
    char msg[160];
    int m = snprintf(msg, sizeof msg, "canned_server: token=%ld sts=%ld bad=%ld tls=%ld\n",
                     atomic_load(&n_token), atomic_load(&n_sts), atomic_load(&n_bad),
                     atomic_load(&n_tls));
    if (m > 0) { ssize_t ignored = write(2, msg, (size_t)m); (void)ignored; }
    signal(sig, SIG_DFL);
    raise(sig);
}

int main(int argc, char **argv) {
    const char *prog = argv[0], *bind_addr = "127.0.0.1", *cert = NULL, *key = NULL;
    while (argc > 1 && strncmp(argv[1], "--", 2) == 0) {
        if (strcmp(argv[1], "--bind") == 0 && argc > 2) {
            bind_addr = argv[2]; argv += 2; argc -= 2;
        } else if (strcmp(argv[1], "--tls") == 0 && argc > 3) {
            cert = argv[2]; key = argv[3]; argv += 3; argc -= 3;
        } else {
            argc = 0; /* usage */
        }
    }
    if (argc != 5) {
        fprintf(stderr, "usage: %s [--bind ADDR] [--tls CERT_PEM KEY_PEM] "
                        "PORT_FILE TOKEN_JSON_FILE STS_XML_FILE REQUEST_TOKEN\n", prog);
        return 2;
    }
    if (cert) {
#ifdef CANNED_TLS
        tls_ctx = SSL_CTX_new(TLS_server_method());
        if (!tls_ctx || SSL_CTX_use_certificate_chain_file(tls_ctx, cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(tls_ctx, key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(tls_ctx) != 1) {
            ERR_print_errors_fp(stderr);
            return 2;
        }
#else
        (void)key;
        fprintf(stderr, "%s: built without TLS (-DCANNED_TLS -lssl -lcrypto)\n", prog);
        return 2;
#endif
    }
    token_body = slurp(argv[2], &token_len);
    sts_body = slurp(argv[3], &sts_len);
    request_token = argv[4];
    signal(SIGPIPE, SIG_IGN); /* SSL_write to a client that went away */
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    if (inet_pton(AF_INET, bind_addr, &a.sin_addr) != 1) {
        fprintf(stderr, "%s: --bind %s is not an IPv4 address\n", prog, bind_addr);
        return 2;
    }
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 128)) { perror("bind/listen"); return 1; }
    socklen_t al = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &al);

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    FILE *pf = fopen(tmp, "w");
    if (!pf) { perror(tmp); return 1; }
    fprintf(pf, "%d\n", ntohs(a.sin_port));
    fclose(pf);
    if (rename(tmp, argv[1])) { perror("rename"); return 1; }

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) { if (errno == EINTR) continue; perror("accept"); continue; }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create(&t, &attr, conn_thread, (void *)(long)c)) serve_fd(c);
    }
}
