/*
 * Preloaded (LD_PRELOAD) into the processes of a local job: a socket bound to every interface (0.0.0.0 or ::) is
 * bound to loopback instead. MPICH 4.0's Hydra binds its control socket to INADDR_ANY with no setting to change it,
 * and its proxies and ranks inherit that socket; with this, a local job listens on loopback only. Explicit addresses
 * (UCX on lo, the ranks' 127.0.0.1 metrics port) pass through unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_function)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *address, socklen_t length)
{
    static bind_function real_bind;
    if (real_bind == NULL)
        real_bind = (bind_function)dlsym(RTLD_NEXT, "bind");

    if (address != NULL && address->sa_family == AF_INET && length >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in in4;
        memcpy(&in4, address, sizeof in4);
        if (in4.sin_addr.s_addr == htonl(INADDR_ANY)) {
            in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (const struct sockaddr *)&in4, sizeof in4);
        }
    }
    if (address != NULL && address->sa_family == AF_INET6 && length >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, address, sizeof in6);
        if (memcmp(&in6.sin6_addr, &in6addr_any, sizeof in6.sin6_addr) == 0) {
            in6.sin6_addr = in6addr_loopback;
            return real_bind(fd, (const struct sockaddr *)&in6, sizeof in6);
        }
    }
    return real_bind(fd, address, length);
}
