/*
 * roundtrips: the network part of the GitHub-path job and nothing else, for
 * bench/run.sh's floor.  It makes COUNT HTTP/1.1 requests to the canned
 * server at 127.0.0.1:PORT, each on a fresh TCP connection, alternating
 *   GET  /token?api-version=2.0&audience=sts.amazonaws.com  (Authorization: bearer)
 *   POST /  Action=AssumeRoleWithWebIdentity&...&WebIdentityToken=<JWT_FILE>
 * (the same two requests the job makes), reads each response to the end and
 * checks for a 200.  With COUNT 0 it only starts and exits.
 * With REPEAT, it does the COUNT requests REPEAT times (after 10 unmeasured
 * times) and prints the median wall time of one repetition in microseconds
 * (clock_gettime(CLOCK_MONOTONIC)): the round trips without any process start.
 *
 *   roundtrips PORT REQUEST_TOKEN JWT_FILE COUNT [REPEAT]
 *
 * Build: cc -O2 -o roundtrips roundtrips.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char resp[1 << 16];

static int request(int port, const char *req, size_t len) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return -1; }
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (size_t off = 0; off < len;) {
        ssize_t w = send(s, req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0) { perror("send"); close(s); return -1; }
        off += (size_t)w;
    }
    size_t n = 0;
    for (;;) { /* the server closes after its response (Connection: close) */
        ssize_t r = recv(s, resp + n, sizeof resp - 1 - n, 0);
        if (r < 0) { perror("recv"); close(s); return -1; }
        if (r == 0 || n + (size_t)r >= sizeof resp - 1) { n += (size_t)(r > 0 ? r : 0); break; }
        n += (size_t)r;
    }
    close(s);
    resp[n] = 0;
    if (strncmp(resp, "HTTP/1.1 200 ", 13) != 0) {
        fprintf(stderr, "roundtrips: not a 200: %.60s\n", resp);
        return -1;
    }
    return 0;
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: %s PORT REQUEST_TOKEN JWT_FILE COUNT [REPEAT]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), count = atoi(argv[4]), repeat = argc == 6 ? atoi(argv[5]) : 0;
    if (count == 0) return 0;
    static char jwt[16384], tok[20000], sts[24000];
    FILE *f = fopen(argv[3], "r");
    if (!f) { perror(argv[3]); return 2; }
    size_t jl = fread(jwt, 1, sizeof jwt - 1, f);
    fclose(f);
    while (jl && (jwt[jl - 1] == '\n' || jwt[jl - 1] == '\r')) jl--;
    jwt[jl] = 0;
    int tl = snprintf(tok, sizeof tok,
                      "GET /token?api-version=2.0&audience=sts.amazonaws.com HTTP/1.1\r\n"
                      "Host: 127.0.0.1:%d\r\nAuthorization: bearer %s\r\n"
                      "Accept: application/json\r\n\r\n", port, argv[2]);
    char body[18000];
    int bl = snprintf(body, sizeof body,
                      "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
                      "&RoleArn=arn%%3Aaws%%3Aiam%%3A%%3A123456789012%%3Arole%%2Fbench"
                      "&RoleSessionName=bench&DurationSeconds=3600&WebIdentityToken=%s", jwt);
    int sl = snprintf(sts, sizeof sts,
                      "POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                      "Content-Type: application/x-www-form-urlencoded\r\n"
                      "Content-Length: %d\r\n\r\n%s", port, bl, body);
    if (repeat <= 0) {
        for (int i = 0; i < count; i++) {
            int rc = (i % 2 == 0) ? request(port, tok, (size_t)tl) : request(port, sts, (size_t)sl);
            if (rc) return 1;
        }
        return 0;
    }
    double *t = calloc((size_t)repeat, sizeof *t);
    if (!t) return 2;
    for (int r = -10; r < repeat; r++) {
        double t0 = now_us();
        for (int i = 0; i < count; i++) {
            int rc = (i % 2 == 0) ? request(port, tok, (size_t)tl) : request(port, sts, (size_t)sl);
            if (rc) return 1;
        }
        if (r >= 0) t[r] = now_us() - t0;
    }
    qsort(t, (size_t)repeat, sizeof *t, cmp_double);
    printf("%.1f\n", repeat % 2 ? t[repeat / 2] : (t[repeat / 2 - 1] + t[repeat / 2]) / 2);
    free(t);
    return 0;
}
