/* Removing a directory tree without following links: every step relative to an open directory
 * (unlinkat, openat with O_NOFOLLOW), so a link swapped in meanwhile cannot redirect it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fs/fs.h"

int edo__fs_remove_tree(int fd)
{
    DIR *dir = fdopendir(fd);
    if (!dir) {
        int err = errno;
        close(fd);
        return -err;
    }
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(dir);
        if (!e) {
            rc = errno ? -errno : 0;
            break;
        }
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (e->d_type != DT_DIR && unlinkat(fd, e->d_name, 0) == 0)
            continue;
        if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN && errno != EISDIR) {
            rc = -errno;
            break;
        }
        /* A directory (or unknown type that unlink refused): empty it, then remove it. */
        int sub = openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            rc = -errno;
            break;
        }
        rc = edo__fs_remove_tree(sub);
        if (rc == 0 && unlinkat(fd, e->d_name, AT_REMOVEDIR) < 0)
            rc = -errno;
        if (rc < 0)
            break;
    }
    closedir(dir);
    return rc;
}
