/* Datagram sockets (UDP and Unix datagram): one datagram per operation, over the reactor. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/open.h"
#include "net/sock.h"

static edo_io *io_of(const edo_udp *u) { return (edo_io *)u; }

int edo_udp_bind_addr(const edo_sockaddr *addr, edo_udp **out)
{
    if (!out || edo__sockaddr_check(addr, EDO__FAMILY_INET | EDO__FAMILY_UNIX) < 0)
        return -EINVAL;
    edo_runtime *rt = edo_runtime_current();
    if (!rt)
        return -EPERM;
    int fd = socket(addr->u.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, &addr->u.sa, addr->len) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    return edo__sock_adopt(rt, (edo_io **)out, fd);
}

int edo_udp_from_fd(int fd, edo_udp **out)
{
    return edo__sock_from_fd((edo_io **)out, fd, SOCK_DGRAM, EDO__FAMILY_INET | EDO__FAMILY_UNIX,
                             EDO__SOCK_ANY);
}

int edo_udp_bind(const char *addr, edo_udp **out)
{
    if (!out || !addr)
        return -EINVAL;
    edo_sockaddr a;
    int n = edo_resolve(addr, &a, 1);
    return n < 0 ? n : edo_udp_bind_addr(&a, out);
}

int edo_unix_datagram_bind(const char *path, edo_udp **out)
{
    if (!out)
        return -EINVAL;
    if (path) {
        edo_sockaddr a;
        int rc = edo_sockaddr_unix(path, &a);
        return rc < 0 ? rc : edo_udp_bind_addr(&a, out);
    }
    edo_runtime *rt = edo_runtime_current();
    if (!rt)
        return -EPERM;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : edo__sock_adopt(rt, (edo_io **)out, fd);
}

int edo_udp_connect(edo_udp *u, const edo_sockaddr *peer)
{
    if (!u || edo__sockaddr_check(peer, EDO__FAMILY_INET | EDO__FAMILY_UNIX) < 0)
        return -EINVAL;
    return connect(io_of(u)->fd, &peer->u.sa, peer->len) < 0 ? -errno : 0;
}

static ssize_t datagram(edo_udp *u, bool send, bool no_wait, void *buf, size_t len,
                        edo_sockaddr *addr, int flags)
{
    edo__transfer x = {.send = send, .datagram = true, .no_wait = no_wait, .flags = flags,
                       .buf = buf, .len = len, .addr = addr};
    return edo__sock_transfer(io_of(u), &x);
}

ssize_t edo_udp_send_to(edo_udp *u, const void *buf, size_t len, const edo_sockaddr *to)
{
    if (!to)
        return -EINVAL;
    return datagram(u, true, false, (void *)buf, len, (edo_sockaddr *)to, 0);
}

ssize_t edo_udp_recv_from(edo_udp *u, void *buf, size_t len, edo_sockaddr *from)
{
    return datagram(u, false, false, buf, len, from, 0);
}

ssize_t edo_udp_peek_from(edo_udp *u, void *buf, size_t len, edo_sockaddr *from)
{
    return datagram(u, false, false, buf, len, from, MSG_PEEK);
}

ssize_t edo_udp_send(edo_udp *u, const void *buf, size_t len)
{
    return datagram(u, true, false, (void *)buf, len, NULL, 0);
}

ssize_t edo_udp_recv(edo_udp *u, void *buf, size_t len)
{
    return datagram(u, false, false, buf, len, NULL, 0);
}

int edo_udp_ready(edo_udp *u, uint32_t interest) { return edo__sock_ready(io_of(u), interest); }

ssize_t edo_udp_try_send_to(edo_udp *u, const void *buf, size_t len, const edo_sockaddr *to)
{
    return datagram(u, true, true, (void *)buf, len, (edo_sockaddr *)to, 0);
}

ssize_t edo_udp_try_recv_from(edo_udp *u, void *buf, size_t len, edo_sockaddr *from)
{
    return datagram(u, false, true, buf, len, from, 0);
}

int edo_udp_set_broadcast(edo_udp *u, bool on)
{
    return edo__sock_set_int(io_of(u), SOL_SOCKET, SO_BROADCAST, on);
}

static int membership(edo_udp *u, const edo_sockaddr *group, unsigned ifindex, bool join)
{
    if (!u || !group)
        return -EINVAL;
    int fd = io_of(u)->fd, rc;
    if (group->u.sa.sa_family == AF_INET) {
        if (!IN_MULTICAST(ntohl(group->u.in.sin_addr.s_addr)))
            return -EINVAL;
        struct ip_mreqn m = {.imr_multiaddr = group->u.in.sin_addr, .imr_ifindex = (int)ifindex};
        rc = setsockopt(fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m,
                        sizeof m);
    } else if (group->u.sa.sa_family == AF_INET6) {
        if (!IN6_IS_ADDR_MULTICAST(&group->u.in6.sin6_addr))
            return -EINVAL;
        struct ipv6_mreq m = {.ipv6mr_multiaddr = group->u.in6.sin6_addr,
                              .ipv6mr_interface = ifindex};
        rc = setsockopt(fd, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &m,
                        sizeof m);
    } else {
        return -EINVAL;
    }
    return rc < 0 ? -errno : 0;
}

int edo_udp_join_multicast(edo_udp *u, const edo_sockaddr *group, unsigned ifindex)
{
    return membership(u, group, ifindex, true);
}

int edo_udp_leave_multicast(edo_udp *u, const edo_sockaddr *group, unsigned ifindex)
{
    return membership(u, group, ifindex, false);
}

/* The socket's family, for options that exist per family. */
static int family_of(const edo_udp *u)
{
    edo_sockaddr a;
    return edo__sock_local_addr(io_of(u), &a) < 0 ? -1 : a.u.sa.sa_family;
}

int edo_udp_set_multicast_loop(edo_udp *u, bool on)
{
    if (!u)
        return -EINVAL;
    return family_of(u) == AF_INET6
               ? edo__sock_set_int(io_of(u), IPPROTO_IPV6, IPV6_MULTICAST_LOOP, on)
               : edo__sock_set_int(io_of(u), IPPROTO_IP, IP_MULTICAST_LOOP, on);
}

int edo_udp_set_multicast_ttl(edo_udp *u, int ttl)
{
    if (!u || ttl < 0 || ttl > 255)
        return -EINVAL;
    return family_of(u) == AF_INET6
               ? edo__sock_set_int(io_of(u), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl)
               : edo__sock_set_int(io_of(u), IPPROTO_IP, IP_MULTICAST_TTL, ttl);
}

int edo_udp_local_addr(const edo_udp *u, edo_sockaddr *out)
{
    return edo__sock_local_addr(io_of(u), out);
}

int edo_udp_peer_addr(const edo_udp *u, edo_sockaddr *out)
{
    return edo__sock_peer_addr(io_of(u), out);
}

int edo_udp_close(edo_udp *u) { return edo__sock_close(io_of(u)); }

int edo_udp_fd(const edo_udp *u) { return edo_io_fd(io_of(u)); }
