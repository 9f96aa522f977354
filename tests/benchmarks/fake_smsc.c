/* The benchmark's fake SMSC in C: the same answers as bench_client.serve, at a
 * fraction of its CPU, so that the client is what the benchmark measures.
 *
 *     cc -O2 -o fake_smsc fake_smsc.c && ./fake_smsc RECEIPTS [PORT]
 *
 * RECEIPTS is 1 or 0. It listens on 127.0.0.1:PORT (0: any free port), prints
 * "PORT n" and answers every connection until killed: bind_* with
 * system_id "fakesmsc", enquire_link, unbind (then closes), every submit_sm
 * with a submit_sm_resp carrying an incrementing hex message_id and, with
 * receipts, a deliver_sm receipt right behind it (receipted_message_id and
 * message_state TLVs and the "id:... stat:DELIVRD" text); deliver_sm_resp is
 * swallowed and any other request gets generic_nack ESME_RINVCMDID. One
 * epoll, one recv per readiness, one send per read (the rest when writable).
 * Linux only; a measuring instrument, not part of smppd.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SUBMIT 0x00000004u
#define DELIVER 0x00000005u
#define UNBIND 0x00000006u
#define ENQUIRE 0x00000015u
#define RESP 0x80000000u
#define MAXFD 4096

typedef struct {
    unsigned char *data;
    size_t len, cap;
} buf_t;

typedef struct {
    int open, closing, writing;
    uint32_t dseq;
    buf_t in, out;
} conn_t;

static conn_t conns[MAXFD];
static int ep;

static void reserve(buf_t *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + extra) cap *= 2;
    b->data = realloc(b->data, cap);
    if (!b->data) { perror("realloc"); exit(1); }
    b->cap = cap;
}

static void put(buf_t *b, const void *p, size_t n) {
    reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put32(buf_t *b, uint32_t v) {
    uint32_t be = htonl(v);
    put(b, &be, 4);
}

static void header(buf_t *b, uint32_t len, uint32_t cid, uint32_t status, uint32_t seq) {
    put32(b, len); put32(b, cid); put32(b, status); put32(b, seq);
}

static uint32_t get32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void drop(int fd) {
    conn_t *c = &conns[fd];
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(c->in.data);
    free(c->out.data);
    memset(c, 0, sizeof *c);
}

static void want_write(int fd, conn_t *c, int on) {
    if (c->writing == on) return;
    c->writing = on;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void flush(int fd) {
    conn_t *c = &conns[fd];
    if (c->out.len) {
        ssize_t n = send(fd, c->out.data, c->out.len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) { drop(fd); return; }
            n = 0;
        }
        memmove(c->out.data, c->out.data + n, c->out.len - (size_t)n);
        c->out.len -= (size_t)n;
    }
    if (c->closing && !c->out.len) { drop(fd); return; }
    want_write(fd, c, c->out.len != 0);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: fake_smsc RECEIPTS [PORT]\n"); return 2; }
    int receipts = atoi(argv[1]);
    int port = argc > 2 ? atoi(argv[2]) : 0;

    /* The receipt's fixed parts, as bench_client._deliver_head and serve build them. */
    static const char source[] = "smppd-bench", destination[] = "447700900123";
    buf_t dhead = {0};
    put(&dhead, "", 1);                                        /* service_type */
    put(&dhead, "\x01\x01", 2); put(&dhead, destination, sizeof destination);
    put(&dhead, "\x05\x00", 2); put(&dhead, source, sizeof source);
    put(&dhead, "\x04\x00\x00", 3); put(&dhead, "", 1); put(&dhead, "", 1);
    put(&dhead, "\x00\x00\x00\x00", 4);
    char stamp[16], text_mid[160];
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%y%m%d%H%M", gmtime(&now));
    int text_mid_len = snprintf(text_mid, sizeof text_mid,
        " sub:001 dlvrd:001 submit date:%s done date:%s stat:DELIVRD err:000 text:bench", stamp, stamp);
    static const unsigned char state_tlv[] = {0x04, 0x27, 0x00, 0x01, 0x02};

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 64)) { perror("listen"); return 1; }
    socklen_t alen = sizeof addr;
    getsockname(lfd, (struct sockaddr *)&addr, &alen);
    printf("PORT %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    uint32_t counter = 0x10000;
    struct epoll_event events[64];
    for (;;) {
        int n = epoll_wait(ep, events, 64, -1);
        if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int s = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                if (s < 0) continue;
                if (s >= MAXFD) { close(s); continue; }
                setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                conns[s].open = 1;
                conns[s].dseq = 1;
                struct epoll_event cev = {.events = EPOLLIN, .data.fd = s};
                epoll_ctl(ep, EPOLL_CTL_ADD, s, &cev);
                continue;
            }
            conn_t *c = &conns[fd];
            if (!c->open) continue;
            if (events[i].events & EPOLLOUT) {
                flush(fd);
                if (!c->open) continue;
            }
            if (!(events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            reserve(&c->in, 1 << 18);
            ssize_t got = recv(fd, c->in.data + c->in.len, 1 << 18, 0);
            if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
            if (got <= 0) { drop(fd); continue; }
            c->in.len += (size_t)got;
            size_t off = 0, end = c->in.len;
            while (end - off >= 16) {
                const unsigned char *p = c->in.data + off;
                uint32_t length = get32(p), cid = get32(p + 4), seq = get32(p + 12);
                if (length < 16) { drop(fd); break; }
                if (end - off < length) break;
                if (cid == SUBMIT) {
                    char mid[16];
                    int mlen = snprintf(mid, sizeof mid, "%x", ++counter);
                    header(&c->out, 17 + (uint32_t)mlen, SUBMIT | RESP, 0, seq);
                    put(&c->out, mid, (size_t)mlen + 1);
                    if (receipts) {
                        uint32_t text_len = 3 + (uint32_t)mlen + (uint32_t)text_mid_len;
                        uint32_t body = (uint32_t)dhead.len + 1 + text_len + 4 + (uint32_t)mlen + 1
                                        + sizeof state_tlv;
                        header(&c->out, 16 + body, DELIVER, 0, c->dseq++);
                        put(&c->out, dhead.data, dhead.len);
                        unsigned char sm_length = (unsigned char)text_len;
                        put(&c->out, &sm_length, 1);
                        put(&c->out, "id:", 3);
                        put(&c->out, mid, (size_t)mlen);
                        put(&c->out, text_mid, (size_t)text_mid_len);
                        unsigned char tlv[4] = {0x00, 0x1e, 0x00, (unsigned char)(mlen + 1)};
                        put(&c->out, tlv, 4);
                        put(&c->out, mid, (size_t)mlen + 1);
                        put(&c->out, state_tlv, sizeof state_tlv);
                    }
                } else if (cid == (DELIVER | RESP)) {
                    /* swallowed */
                } else if (cid == ENQUIRE) {
                    header(&c->out, 16, ENQUIRE | RESP, 0, seq);
                } else if (cid == 0x1 || cid == 0x2 || cid == 0x9) {
                    header(&c->out, 25, cid | RESP, 0, seq);
                    put(&c->out, "fakesmsc", 9);
                } else if (cid == UNBIND) {
                    header(&c->out, 16, UNBIND | RESP, 0, seq);
                    c->closing = 1;
                } else if (!(cid & RESP)) {
                    header(&c->out, 16, RESP, 0x00000003, seq); /* generic_nack ESME_RINVCMDID */
                }
                off += length;
            }
            if (!c->open) continue;
            memmove(c->in.data, c->in.data + off, end - off);
            c->in.len = end - off;
            if (c->out.len || c->closing) flush(fd);
        }
    }
}
