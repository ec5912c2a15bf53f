/* Metadata: statx, turned into edo_metadata (fstatat where statx is refused, as some seccomp
 * filters do: then no birth time). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fs/fs.h"

edo_file_type edo__fs_type_of_mode(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return EDO_FILE_REGULAR;
    case S_IFDIR: return EDO_FILE_DIR;
    case S_IFLNK: return EDO_FILE_SYMLINK;
    case S_IFIFO: return EDO_FILE_FIFO;
    case S_IFSOCK: return EDO_FILE_SOCKET;
    case S_IFCHR: return EDO_FILE_CHAR_DEVICE;
    case S_IFBLK: return EDO_FILE_BLOCK_DEVICE;
    default: return EDO_FILE_UNKNOWN;
    }
}

static int64_t ns_of(int64_t sec, uint32_t nsec) { return sec * 1000000000 + (int64_t)nsec; }

static int from_stat(int dirfd, const char *path, int flags, edo_metadata *out)
{
    struct stat st;
    if (fstatat(dirfd, path, &st, flags) < 0)
        return -errno;
    *out = (edo_metadata){
        .type = edo__fs_type_of_mode(st.st_mode),
        .permissions = (uint32_t)(st.st_mode & 07777),
        .len = (uint64_t)st.st_size,
        .blocks = (uint64_t)st.st_blocks,
        .dev = (uint64_t)st.st_dev,
        .ino = (uint64_t)st.st_ino,
        .nlink = (uint64_t)st.st_nlink,
        .uid = st.st_uid,
        .gid = st.st_gid,
        .accessed_ns = ns_of(st.st_atim.tv_sec, (uint32_t)st.st_atim.tv_nsec),
        .modified_ns = ns_of(st.st_mtim.tv_sec, (uint32_t)st.st_mtim.tv_nsec),
        .changed_ns = ns_of(st.st_ctim.tv_sec, (uint32_t)st.st_ctim.tv_nsec),
        .created_ns = -1,
    };
    return 0;
}

void edo__fs_metadata_of_statx(const struct statx *sx, edo_metadata *out)
{
    *out = (edo_metadata){
        .type = edo__fs_type_of_mode(sx->stx_mode),
        .permissions = (uint32_t)(sx->stx_mode & 07777),
        .len = sx->stx_size,
        .blocks = sx->stx_blocks,
        .dev = (uint64_t)makedev(sx->stx_dev_major, sx->stx_dev_minor),
        .ino = sx->stx_ino,
        .nlink = sx->stx_nlink,
        .uid = sx->stx_uid,
        .gid = sx->stx_gid,
        .accessed_ns = ns_of(sx->stx_atime.tv_sec, sx->stx_atime.tv_nsec),
        .modified_ns = ns_of(sx->stx_mtime.tv_sec, sx->stx_mtime.tv_nsec),
        .changed_ns = ns_of(sx->stx_ctime.tv_sec, sx->stx_ctime.tv_nsec),
        .created_ns = (sx->stx_mask & STATX_BTIME)
                          ? ns_of(sx->stx_btime.tv_sec, sx->stx_btime.tv_nsec)
                          : -1,
    };
}

int edo__fs_stat(int dirfd, const char *path, int flags, edo_metadata *out)
{
    struct statx sx;
    if (statx(dirfd, path, flags | EDO__FS_STATX_FLAGS, EDO__FS_STATX_MASK, &sx) < 0) {
        if (errno == ENOSYS || errno == EPERM)
            return from_stat(dirfd, path, flags, out);
        return -errno;
    }
    edo__fs_metadata_of_statx(&sx, out);
    return 0;
}
