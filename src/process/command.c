/* The command builder: what edo_command_spawn will run, and the environment it passes. The
 * argument vector is kept NULL-terminated as it grows, so a spawn allocates nothing for it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "process/process.h"

extern char **environ;

/* Appends `s` (a copy) to the argument vector, keeping it NULL-terminated. */
static int argv_push(edo_command *c, const char *s)
{
    if (c->argc + 2 > c->argv_cap) {
        size_t cap = c->argv_cap ? c->argv_cap * 2 : 8;
        char **argv = realloc(c->argv, cap * sizeof *argv);
        if (!argv)
            return -ENOMEM;
        c->argv = argv;
        c->argv_cap = cap;
    }
    char *copy = strdup(s);
    if (!copy)
        return -ENOMEM;
    c->argv[c->argc++] = copy;
    c->argv[c->argc] = NULL;
    return 0;
}

int edo_command_new(const char *program, edo_command **out)
{
    if (!program || !*program || !out)
        return -EINVAL;
    edo_command *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    for (int i = 0; i < 3; i++)
        c->stdio_fd[i] = -1;
    if (argv_push(c, program) < 0) {
        edo_command_free(c);
        return -ENOMEM;
    }
    *out = c;
    return 0;
}

void edo_command_free(edo_command *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->argc; i++)
        free(c->argv[i]);
    free(c->argv);
    for (size_t i = 0; i < c->env_count; i++)
        free(c->env[i].entry);
    free(c->env);
    free(c->cwd);
    for (int i = 0; i < 3; i++)
        if (c->stdio_fd[i] >= 0)
            close(c->stdio_fd[i]);
    free(c);
}

int edo_command_arg(edo_command *c, const char *arg)
{
    if (!c || !arg)
        return -EINVAL;
    return argv_push(c, arg);
}

/* ---- the environment ------------------------------------------------------------------------ */

static bool env_name_valid(const char *name)
{
    return name && *name && !strchr(name, '=');
}

/* Records a change of `name` (replacing an earlier one of the same name): "name=value", or
 * a removal when value is NULL. */
static int env_change(edo_command *c, const char *name, const char *value)
{
    size_t name_len = strlen(name);
    size_t value_len = value ? strlen(value) : 0;
    char *entry = malloc(name_len + value_len + 2);
    if (!entry)
        return -ENOMEM;
    memcpy(entry, name, name_len);
    entry[name_len] = '=';
    if (value)
        memcpy(entry + name_len + 1, value, value_len);
    entry[name_len + 1 + value_len] = '\0';
    if (!value)
        entry[name_len] = '\0';
    edo__env_change change = {entry, name_len, !value};
    for (size_t i = 0; i < c->env_count; i++) {
        if (c->env[i].name_len == name_len && !memcmp(c->env[i].entry, name, name_len)) {
            free(c->env[i].entry);
            c->env[i] = change;
            return 0;
        }
    }
    if (c->env_count == c->env_cap) {
        size_t cap = c->env_cap ? c->env_cap * 2 : 4;
        edo__env_change *env = realloc(c->env, cap * sizeof *env);
        if (!env) {
            free(entry);
            return -ENOMEM;
        }
        c->env = env;
        c->env_cap = cap;
    }
    c->env[c->env_count++] = change;
    return 0;
}

int edo_command_env(edo_command *c, const char *name, const char *value)
{
    if (!c || !env_name_valid(name) || !value)
        return -EINVAL;
    return env_change(c, name, value);
}

int edo_command_env_remove(edo_command *c, const char *name)
{
    if (!c || !env_name_valid(name))
        return -EINVAL;
    return env_change(c, name, NULL);
}

int edo_command_env_clear(edo_command *c)
{
    if (!c)
        return -EINVAL;
    /* Changes made before still count as settings on the empty environment; removals are moot. */
    c->env_clear = true;
    return 0;
}

/* The change the command makes to the variable `entry` ("NAME=value"), or NULL. */
static const edo__env_change *change_of(const edo_command *c, const char *entry)
{
    size_t len = strcspn(entry, "=");
    for (size_t i = 0; i < c->env_count; i++)
        if (c->env[i].name_len == len && !memcmp(c->env[i].entry, entry, len))
            return &c->env[i];
    return NULL;
}

int edo__command_envp(const edo_command *c, char ***envp, char ***owned)
{
    *owned = NULL;
    if (!c->env_clear && c->env_count == 0) {
        *envp = environ;
        return 0;
    }
    size_t inherited = 0;
    if (!c->env_clear)
        while (environ[inherited])
            inherited++;
    char **list = malloc((inherited + c->env_count + 1) * sizeof *list);
    if (!list)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < inherited; i++)
        if (!change_of(c, environ[i]))
            list[n++] = environ[i];
    for (size_t i = 0; i < c->env_count; i++)
        if (!c->env[i].remove)
            list[n++] = c->env[i].entry;
    list[n] = NULL;
    *envp = *owned = list;
    return 0;
}

const char *edo__command_search_path(const edo_command *c)
{
    for (size_t i = 0; i < c->env_count; i++)
        if (c->env[i].name_len == 4 && !memcmp(c->env[i].entry, "PATH", 4))
            return c->env[i].remove ? "/bin:/usr/bin" : c->env[i].entry + 5;
    const char *path = c->env_clear ? NULL : getenv("PATH");
    return path ? path : "/bin:/usr/bin";
}

/* ---- the rest of the settings --------------------------------------------------------------- */

int edo_command_cwd(edo_command *c, const char *dir)
{
    if (!c || !dir || !*dir)
        return -EINVAL;
    char *copy = strdup(dir);
    if (!copy)
        return -ENOMEM;
    free(c->cwd);
    c->cwd = copy;
    return 0;
}

/* Sets standard stream `which` to `how`, taking a copy of `fd` for EDO_STDIO_FD (a copy above 2,
 * so that setting up one standard stream in the child never overwrites another's source). */
static int set_stdio(edo_command *c, int which, edo_stdio how, int fd)
{
    if (!c || how < EDO_STDIO_INHERIT || how > EDO_STDIO_FD || (how == EDO_STDIO_FD && fd < 0))
        return -EINVAL;
    int copy = -1;
    if (how == EDO_STDIO_FD && (copy = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
        return -errno;
    if (c->stdio_fd[which] >= 0)
        close(c->stdio_fd[which]);
    c->stdio[which] = how;
    c->stdio_set[which] = true;
    c->stdio_fd[which] = copy;
    return 0;
}

int edo_command_stdin(edo_command *c, edo_stdio how, int fd) { return set_stdio(c, 0, how, fd); }
int edo_command_stdout(edo_command *c, edo_stdio how, int fd) { return set_stdio(c, 1, how, fd); }
int edo_command_stderr(edo_command *c, edo_stdio how, int fd) { return set_stdio(c, 2, how, fd); }

int edo_command_stdin_from_child(edo_command *c, edo_child *from)
{
    if (!c || !from || !from->stdio[1])
        return -EINVAL;
    edo_stream *s = from->stdio[1];
    int fd = edo_stream_raw_fd(s, false);
    if (fd < 0)
        return fd;
    int rc = set_stdio(c, 0, EDO_STDIO_FD, fd);
    if (rc < 0)
        return rc;
    from->stdio[1] = NULL;
    edo_stream_close(s);
    /* The parent's end was non-blocking for the reactor; the next program reads it plainly. The
     * stream is closed, so the command's copy is the description's only holder in this process. */
    int flags = fcntl(c->stdio_fd[0], F_GETFL);
    if (flags >= 0)
        fcntl(c->stdio_fd[0], F_SETFL, flags & ~O_NONBLOCK);
    return 0;
}

int edo_command_process_group(edo_command *c, pid_t pgid)
{
    if (!c || pgid < 0)
        return -EINVAL;
    c->set_pgid = true;
    c->pgid = pgid;
    return 0;
}

int edo_command_uid(edo_command *c, uid_t uid)
{
    if (!c || uid == (uid_t)-1)
        return -EINVAL;
    c->set_uid = true;
    c->uid = uid;
    return 0;
}

int edo_command_gid(edo_command *c, gid_t gid)
{
    if (!c || gid == (gid_t)-1)
        return -EINVAL;
    c->set_gid = true;
    c->gid = gid;
    return 0;
}

int edo_command_kill_on_drop(edo_command *c, bool on)
{
    if (!c)
        return -EINVAL;
    c->kill_on_drop = on;
    return 0;
}
