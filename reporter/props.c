/* props.c: instance properties (see props.h). */
#include "sw_common.h"

#include "props.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef SW_VERSION
#define SW_VERSION "0.0.0"
#endif

/* At most this many ipv4 properties: the rest would crowd out the
 * properties after them. */
#define MAX_IPV4 8

void
sw_props_add(struct sw_props *p, const char *key, const char *value)
{
  if (p->n >= SW_PROPS_MAX)
    return;
  sw_strlcpy(p->kv[p->n].key, key, sizeof(p->kv[p->n].key));
  sw_strlcpy(p->kv[p->n].value, value, sizeof(p->kv[p->n].value));
  p->n++;
}

/* One ipv4 property per address that is up and not loopback. The backend
 * joins all ipv4 properties into its "ipv4s" field. */
static void
add_ipv4s(struct sw_props *p)
{
  struct ifaddrs *ifs = NULL, *i;
  char addr[INET_ADDRSTRLEN];
  int n = 0;

  if (getifaddrs(&ifs) == 0) {
    for (i = ifs; i && n < MAX_IPV4; i = i->ifa_next) {
      const struct sockaddr_in *sin;

      if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
        continue;
      if ((i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
        continue;
      sin = (const struct sockaddr_in *)i->ifa_addr;
      if (!inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr)))
        continue;
      sw_props_add(p, "ipv4", addr);
      n++;
    }
    freeifaddrs(ifs);
  }
  if (n == 0)
    sw_props_add(p, "ipv4", "127.0.0.1");
}

void
sw_props_collect(struct sw_props *p, const struct sw_config *cfg, int pid,
                 const char *hostname)
{
  struct utsname u;
  char num[24];
  char host[256];

  p->n = 0;
  /* The backend knows only its own languages and shows any other value
   * as UNKNOWN, but it stores the raw string, which is the truth. */
  sw_props_add(p, "language", "C");
  sw_props_add(p, "OS Name", uname(&u) == 0 ? u.sysname : "Linux");
  snprintf(num, sizeof(num), "%d", pid);
  sw_props_add(p, "Process No.", num);
  if (!hostname || !*hostname) {
    if (gethostname(host, sizeof(host)) != 0)
      host[0] = '\0';
    host[sizeof(host) - 1] = '\0';
    hostname = host;
  }
  sw_props_add(p, "hostname", hostname);
  add_ipv4s(p);
  sw_props_add(p, "agent", "swpreload");
  sw_props_add(p, "agent_version", SW_VERSION);
  if (cfg && cfg->namespace_[0])
    sw_props_add(p, "namespace", cfg->namespace_);
}
