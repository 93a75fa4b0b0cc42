// The GNU parts of <spawn.h> and <unistd.h> Swift's Glibc module leaves out (it is built
// without _GNU_SOURCE), for Tests/VeldTestSupport/Subprocess.swift.
#pragma once
#include <spawn.h>

/// pipe2(fds, O_CLOEXEC): both ends close on exec, set atomically.
int veld_pipe_cloexec(int fds[2]);
/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34).
int veld_spawn_closefrom(posix_spawn_file_actions_t *actions, int from);
/// posix_spawn_file_actions_addchdir_np (glibc 2.29).
int veld_spawn_chdir(posix_spawn_file_actions_t *actions, const char *path);
