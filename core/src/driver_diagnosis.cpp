// SPDX-License-Identifier: Apache-2.0
// driver_diagnosis.cpp - why a driver cannot run here, and what to do about
// it, in one error line at the default log level (driver_diagnosis.hpp).
//
// The factories say what they saw at info level (the device is absent,
// served by another server, ...); a user who asked for that driver by name
// needs the reason and the next step without turning on info. The facts are
// read again here from the machine: the device node, /sys/module, /proc, so
// no factory has to carry a reason string back through Result.
#include "driver_diagnosis.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "log.hpp"

namespace emucxl {

namespace {

bool exists(const char *path) noexcept
{
	return ::access(path, F_OK) == 0;
}

// The major number /proc/devices gives a character driver, or -1.
int char_major(const char *driver) noexcept
{
	std::FILE *f = std::fopen("/proc/devices", "re");
	if (!f)
		return -1;
	char line[128];
	int major = -1;
	bool chars = false;
	while (std::fgets(line, sizeof(line), f)) {
		if (std::strncmp(line, "Character", 9) == 0) {
			chars = true;
			continue;
		}
		if (std::strncmp(line, "Block", 5) == 0)
			break;
		int m;
		char name[64];
		if (chars && std::sscanf(line, "%d %63s", &m, name) == 2 &&
		    std::strcmp(name, driver) == 0) {
			major = m;
			break;
		}
	}
	std::fclose(f);
	return major;
}

// What the node at `path` is: 0 none, 1 not a character device, 2 a CUSE
// device (emucxl-cused), 3 another character device (the module's misc one).
enum class Node { none, not_char, cuse, other_char };

Node node_kind(const char *path) noexcept
{
	struct stat st;
	if (::stat(path, &st) != 0)
		return Node::none;
	if (!S_ISCHR(st.st_mode))
		return Node::not_char;
	const int cuse = char_major("cuse");
	return cuse >= 0 && static_cast<int>(major(st.st_rdev)) == cuse ? Node::cuse
									 : Node::other_char;
}

// Why this machine cannot load emucxl.ko, or nullptr if it could.
const char *cannot_load_modules() noexcept
{
	if (!exists("/proc/modules"))
		return "this kernel has no module support (no /proc/modules), so the module "
		       "cannot be loaded here";
	if (std::FILE *f = std::fopen("/proc/sys/kernel/modules_disabled", "re")) {
		const int c = std::fgetc(f);
		std::fclose(f);
		if (c == '1')
			return "this kernel refuses new modules (kernel.modules_disabled=1)";
	}
	return nullptr;
}

// vm/guest/init names the guest so: there, the next step is vm/run's.
bool in_vm_guest() noexcept
{
	char name[64] = {};
	return ::gethostname(name, sizeof(name) - 1) == 0 && std::strcmp(name, "emucxl-vm") == 0;
}

constexpr const char *kGuestHint =
	"or run the program in the two-node guest, which loads the module and starts "
	"the daemon: vm/run -- PROGRAM; EMUCXL_BACKEND=mbind needs neither";

void explain_kmod(const Config &config, int err) noexcept
{
	const char *dev = config.device.c_str();
	const char *how = !config.device_is_default ? "EMUCXL_DEVICE=" : "";
	if (err == EACCES || err == EPERM) {
		LOG_ERROR("EMUCXL_BACKEND=kmod: cannot open %s%s: %s; the udev rule "
			  "backends/kmod/udev/99-emucxl.rules gives the group emucxl access, or run as "
			  "root", how, dev, std::strerror(err));
		return;
	}
	if (err == EINVAL) {
		LOG_ERROR("EMUCXL_BACKEND=kmod: the module's node mapping is not the one "
			  "EMUCXL_LOCAL_NODE/EMUCXL_REMOTE_NODE ask for (see the warning above)");
		return;
	}
	if (err != ENODEV) {
		LOG_ERROR("EMUCXL_BACKEND=kmod: driver cannot run here: %s (%s%s)",
			  std::strerror(err), how, dev);
		return;
	}
	switch (node_kind(dev)) {
	case Node::cuse:
		LOG_ERROR("EMUCXL_BACKEND=kmod: %s%s is served by emucxl-cused, not by the kernel "
			  "module: use EMUCXL_BACKEND=cuse, or point EMUCXL_DEVICE at the module's "
			  "/dev/emucxl", how, dev);
		return;
	case Node::not_char:
		LOG_ERROR("EMUCXL_BACKEND=kmod: %s%s is not a character device; the module's "
			  "device is /dev/emucxl", how, dev);
		return;
	case Node::other_char:
		LOG_ERROR("EMUCXL_BACKEND=kmod: %s%s does not answer emucxl's ABI (is it the "
			  "module's device?); the module's device is /dev/emucxl", how, dev);
		return;
	case Node::none:
		break;
	}
	if (exists("/sys/module/emucxl")) {
		LOG_ERROR("EMUCXL_BACKEND=kmod: the emucxl module is loaded, but %s%s does not "
			  "exist%s", how, dev,
			  !config.device_is_default ? "; the module's device is /dev/emucxl"
						 : " (was it removed? reload the module)");
		return;
	}
	if (in_vm_guest()) {
		LOG_ERROR("EMUCXL_BACKEND=kmod: no %s: the emucxl module is not loaded in this vm/ "
			  "guest; vm/run loads it when it is built for the guest's kernel "
			  "(backends/kmod/build-module --kernel 6.1|6.12) and --no-kmod is not given",
			  dev);
		return;
	}
	if (const char *why = cannot_load_modules()) {
		LOG_ERROR("EMUCXL_BACKEND=kmod: no %s: the emucxl module is not loaded, and %s; "
			  "run the program in the two-node guest, which loads it: vm/run -- PROGRAM "
			  "(EMUCXL_BACKEND=mbind needs no module)", dev, why);
		return;
	}
	LOG_ERROR("EMUCXL_BACKEND=kmod: no %s: the emucxl module is not loaded; load it "
		  "(as root: insmod emucxl.ko, built by `cmake --build BUILD --target kmod`; see "
		  "backends/kmod/README.md), %s", dev, kGuestHint);
}

void explain_cuse(const Config &config, int err) noexcept
{
	const char *dev = config.device.c_str();
	const char *how = !config.device_is_default ? "EMUCXL_DEVICE=" : "";
	if (err == ENOTSUP) {
		LOG_ERROR("EMUCXL_BACKEND=cuse: this build has no cuse driver; configure with "
			  "-DEMUCXL_WITH_CUSE=ON (needs libfuse3-dev)");
		return;
	}
	if (err == EACCES || err == EPERM) {
		LOG_ERROR("EMUCXL_BACKEND=cuse: cannot open %s%s: %s; the udev rule "
			  "backends/cuse/udev/99-emucxl-cuse.rules gives the group emucxl access, or "
			  "run as root", how, dev, std::strerror(err));
		return;
	}
	if (err == EINVAL) {
		LOG_ERROR("EMUCXL_BACKEND=cuse: the daemon's node mapping is not the one "
			  "EMUCXL_LOCAL_NODE/EMUCXL_REMOTE_NODE ask for (see the warning above)");
		return;
	}
	if (err != ENODEV) {
		LOG_ERROR("EMUCXL_BACKEND=cuse: driver cannot run here: %s (%s%s)",
			  std::strerror(err), how, dev);
		return;
	}
	// What was looked for: EMUCXL_DEVICE, or the two default names.
	char tried[256];
	if (!config.device_is_default)
		std::snprintf(tried, sizeof(tried), "no EMUCXL_DEVICE=%s", dev);
	else
		std::snprintf(tried, sizeof(tried), "neither " EMUCXL_DEVICE_DEFAULT
			      " nor " EMUCXL_DEVICE_CUSE " is its device");
	const Node kind = !config.device_is_default ? node_kind(dev) : Node::none;
	if (kind == Node::other_char || kind == Node::not_char) {
		LOG_ERROR("EMUCXL_BACKEND=cuse: EMUCXL_DEVICE=%s is not a device emucxl-cused "
			  "serves%s", dev, kind == Node::other_char && std::strncmp(dev, "/dev/emucxl", 11) == 0
						? " (the kernel module's? then use EMUCXL_BACKEND=kmod)"
						: "; the daemon's device is /dev/NAME of its --name");
		return;
	}
	if (config.device_is_default && node_kind(EMUCXL_DEVICE_DEFAULT) == Node::other_char &&
	    node_kind(EMUCXL_DEVICE_CUSE) == Node::none) {
		LOG_ERROR("EMUCXL_BACKEND=cuse: " EMUCXL_DEVICE_DEFAULT " is the kernel module's device "
			  "and no emucxl-cused serves " EMUCXL_DEVICE_CUSE ": use EMUCXL_BACKEND=kmod, or "
			  "start the daemon (emucxl-cused --name emucxl-cuse)");
		return;
	}
	if (in_vm_guest()) {
		LOG_ERROR("EMUCXL_BACKEND=cuse: no emucxl-cused is running in this vm/ guest (%s); "
			  "vm/run starts it when it is built and --no-cused is not given", tried);
		return;
	}
	if (!exists("/dev/cuse")) {
		LOG_ERROR("EMUCXL_BACKEND=cuse: no emucxl-cused is running (%s), and this kernel has "
			  "no /dev/cuse for one (as root: modprobe cuse; kernels without CUSE, as "
			  "in many containers, cannot run the daemon); %s", tried, kGuestHint);
		return;
	}
	LOG_ERROR("EMUCXL_BACKEND=cuse: no emucxl-cused is running (%s); start it "
		  "(emucxl-cused serves " EMUCXL_DEVICE_DEFAULT ", see backends/cuse/README.md), %s",
		  tried, kGuestHint);
}

}  // namespace

void explain_unavailable_driver(const char *name, const Config &config, int err) noexcept
{
	if (std::strcmp(name, "kmod") == 0 && err == ENOTSUP) {
		LOG_ERROR("EMUCXL_BACKEND=kmod: this build has no kmod driver");
		return;
	}
	if (std::strcmp(name, "kmod") == 0)
		explain_kmod(config, err);
	else if (std::strcmp(name, "cuse") == 0)
		explain_cuse(config, err);
	else
		LOG_ERROR("EMUCXL_BACKEND=%s: driver cannot run here: %s", name,
			  std::strerror(err));
}

Status check_configured_nodes(const Config &config) noexcept
{
	const struct {
		int node;
		const char *var;
	} vars[] = {{config.local_node, "EMUCXL_LOCAL_NODE"},
		    {config.remote_node, "EMUCXL_REMOTE_NODE"}};
	const bool numa = exists("/sys/devices/system/node");
	for (const auto &v : vars) {
		if (v.node < 0)
			continue;
		char path[64];
		std::snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", v.node);
		if (exists(path) || (!numa && v.node == 0))
			continue;
		char online[64] = "0";
		if (std::FILE *f = std::fopen("/sys/devices/system/node/online", "re")) {
			if (!std::fgets(online, sizeof(online), f))
				std::strcpy(online, "?");
			online[std::strcspn(online, "\n")] = '\0';
			std::fclose(f);
		}
		LOG_ERROR("%s=%d: NUMA node %d does not exist on this machine (its nodes: %s)",
			  v.var, v.node, v.node, online);
		return Error{EINVAL};
	}
	return {};
}

}  // namespace emucxl
