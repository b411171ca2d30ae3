// SPDX-License-Identifier: Apache-2.0
// run_command.hpp - test helper: run a command line through the shell and
// capture its stdout and exit status, so tests can check a CLI end to end.
#pragma once

#include <array>
#include <cstdio>
#include <string>

#include <sys/wait.h>

namespace emucxl::apps {

struct CommandResult {
	int exit_code = -1; // -1 when the command could not be run or was killed
	std::string out;    // stdout only; stderr goes to the test's log
};

inline CommandResult run_command(const std::string &command_line)
{
	CommandResult r;
	FILE *p = popen(command_line.c_str(), "r");
	if (!p)
		return r;
	std::array<char, 4096> buf;
	std::size_t n;
	while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
		r.out.append(buf.data(), n);
	int status = pclose(p);
	if (status != -1 && WIFEXITED(status))
		r.exit_code = WEXITSTATUS(status);
	return r;
}

} // namespace emucxl::apps
