/* The two sysctls portredir reads, and the one it keeps in sync, of the
 * caller's network namespace. root is the directory /proc/sys stands for:
 * NULL means /proc/sys, tests point it at a fake tree. */
#ifndef SYSCTL_H
#define SYSCTL_H

#define SYSCTL_UNPRIVILEGED_PORT_START "net/ipv4/ip_unprivileged_port_start"
#define SYSCTL_LOCAL_PORT_RANGE "net/ipv4/ip_local_port_range"
/* The kernel's default for ip_unprivileged_port_start, used when /proc/sys
 * cannot be read (a chroot without /proc, for example). */
#define SYSCTL_DEFAULT_UNPRIVILEGED_PORT_START 1024u
#define SYSCTL_DEFAULT_LOCAL_PORT_FIRST 32768u

/* Each returns 0 or -errno; -EINVAL when the file holds something else than
 * the number(s) expected. */
int sysctl_read_unprivileged_port_start(const char *root, unsigned int *ret_value);
int sysctl_read_local_port_range(const char *root, unsigned int *ret_first, unsigned int *ret_last);
int sysctl_write_unprivileged_port_start(const char *root, unsigned int value);

#endif
