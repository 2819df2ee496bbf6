/* xport_file.c: the file transport, for debugging without a backend.
 *
 * Appends JSON lines to SW_AGENT_FILE_PATH (relative to the working
 * directory the process had when the reporter started), in the format of
 * the project's collector (scripts/sw_collector.py), so that its `tree`
 * command can show the traces:
 *   {"type":"segment","data":<SegmentObject>}      one per segment
 *   {"type":"properties","data":<InstanceProperties>}
 * The objects are the JSON that the HTTP transport sends (json.c).
 * Properties are written when the heartbeat sends them (at start and
 * every properties_factor-th beat); keepAlive writes nothing, as it
 * carries nothing the properties line does not.
 *
 * The file is opened once, O_APPEND (so processes sharing the file never
 * overwrite each other's lines) and O_CLOEXEC, mode 0600 (segments carry
 * URLs). A batch is one write(). A daemon may close every fd it did not
 * open and reuse the number for its own file: before each write the fd is
 * checked to still be the file we opened (device and inode), and the file
 * is reopened otherwise, so segments never land in someone else's file. */
#include "sw_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "xport.h"

#define BODY_KEEP ((size_t)8 << 20)

struct xfile {
  struct sw_xport base;
  int fd;
  dev_t dev;
  ino_t ino;
  struct sw_buf body;
};

static int
open_file(struct xfile *f)
{
  const char *path = f->base.env->cfg->file_path;
  struct stat st;
  int fd;

  do
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int e = errno;
    snprintf(f->base.err, sizeof(f->base.err), "%s: %s", path, strerror(e));
    return -e;
  }
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    snprintf(f->base.err, sizeof(f->base.err), "%s: %s", path, strerror(e));
    return -e;
  }
  f->fd = fd;
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  return 0;
}

/* Is f->fd still the file we opened? When it is not, the number belongs
 * to someone else now: it is forgotten, never closed. */
static int
ensure_open(struct xfile *f)
{
  struct stat st;

  if (f->fd >= 0 && fstat(f->fd, &st) == 0 && st.st_dev == f->dev &&
      st.st_ino == f->ino)
    return 0;
  if (f->fd >= 0)
    f->base.env->log(SW_LOG_WARNING, "reporter: %s was closed under us; "
                     "reopening it", f->base.env->cfg->file_path);
  f->fd = -1;
  return open_file(f);
}

/* Writes f->body in one go (a short write is continued). */
static int
write_body(struct xfile *f)
{
  size_t off = 0;
  int rc;

  if ((rc = ensure_open(f)) != 0)
    return rc;
  while (off < f->body.len) {
    ssize_t w = write(f->fd, f->body.data + off, f->body.len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      int e = w < 0 ? errno : EIO;
      snprintf(f->base.err, sizeof(f->base.err), "%s: %s",
               f->base.env->cfg->file_path, strerror(e));
      return -e;
    }
    off += (size_t)w;
  }
  return 0;
}

static int
line(struct sw_buf *b, const char *type)
{
  int rc = sw_buf_append(b, "{\"type\":\"", 9);

  if (rc == 0)
    rc = sw_buf_append(b, type, strlen(type));
  if (rc == 0)
    rc = sw_buf_append(b, "\",\"data\":", 9);
  return rc;
}

int
sw_xport_file_body(struct sw_buf *b, struct sw_seg *const *segs, size_t n,
                   const char *service, const char *instance)
{
  for (size_t i = 0; i < n; i++) {
    if (line(b, "segment") != 0 ||
        sw_json_segment(b, segs[i], service, instance) != 0 ||
        sw_buf_append(b, "}\n", 2) != 0)
      return -ENOMEM;
  }
  return 0;
}

static int
file_send_segments(struct sw_xport *x, struct sw_seg *const *segs, size_t n,
                   int64_t deadline_ms)
{
  struct xfile *f = (struct xfile *)x;
  const struct sw_config *cfg = x->env->cfg;

  sw_buf_reset(&f->body, BODY_KEEP);
  if (sw_xport_file_body(&f->body, segs, n, cfg->service, cfg->instance)) {
    snprintf(x->err, sizeof(x->err), "out of memory encoding segments");
    return -ENOMEM;
  }
  return f->body.len ? write_body(f) : 0;
}

static int
file_report_properties(struct sw_xport *x, const struct sw_props *p,
                       int64_t deadline_ms)
{
  struct xfile *f = (struct xfile *)x;
  const struct sw_config *cfg = x->env->cfg;

  sw_buf_reset(&f->body, BODY_KEEP);
  if (line(&f->body, "properties") != 0 ||
      sw_json_properties(&f->body, cfg->service, cfg->instance, p) != 0 ||
      sw_buf_append(&f->body, "}\n", 2) != 0) {
    snprintf(x->err, sizeof(x->err), "out of memory encoding properties");
    return -ENOMEM;
  }
  return write_body(f);
}

static int
file_keepalive(struct sw_xport *x, int64_t deadline_ms)
{
  return 0;
}

static void
file_close(struct sw_xport *x)
{
  struct xfile *f = (struct xfile *)x;

  if (f->fd >= 0)
    close(f->fd);
  sw_buf_free(&f->body);
  free(f);
}

struct sw_xport *
sw_xport_file_open(const struct sw_reporter_env *env)
{
  struct xfile *f = calloc(1, sizeof(*f));

  if (!f)
    return NULL;
  f->fd = -1;
  f->base.name = "file";
  f->base.send_segments = file_send_segments;
  f->base.encode_single = sw_xport_json_single;
  f->base.report_properties = file_report_properties;
  f->base.keepalive = file_keepalive;
  f->base.close = file_close;
  f->base.env = env;
  if (!env->cfg->file_path[0] || open_file(f) != 0) {
    env->log(SW_LOG_ERROR, "reporter: cannot open the segment file: %s",
             f->base.err[0] ? f->base.err : "no SW_AGENT_FILE_PATH");
    free(f);
    return NULL;
  }
  return &f->base;
}
