#ifndef PORTICO_CREUSEPORT_SHIM_H
#define PORTICO_CREUSEPORT_SHIM_H

// Steering within a SO_REUSEPORT group, which Swift's Glibc module cannot express (a classic BPF
// program is an array of C structs from <linux/filter.h>).
#include <sys/socket.h>
#include <linux/filter.h>

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

// Attaches to the SO_REUSEPORT group of the listening socket `fd` a program that sends every new
// connection to the group's socket number `index` (sockets are numbered in the order they joined;
// when one leaves, the last takes its number). An index beyond the group makes the kernel fall back
// to its usual hash, so with a group of one nothing changes. Returns 0, or -1 with errno set.
static inline int portico_reuseport_steer(int fd, unsigned int index) {
    struct sock_filter code[1] = {{BPF_RET | BPF_K, 0, 0, index}};
    struct sock_fprog program = {1, code};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof(program));
}

#endif
