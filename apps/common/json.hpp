// SPDX-License-Identifier: Apache-2.0
// json.hpp - the apps' --json output, on nlohmann/json.
//
// Json keeps members in the order they are added, so every object reads as
// it always has (and shell consumers that grep a run of members, like
// tests/vm-cxl's '"name":"remote","physical_node":N,', still match). Output
// is compact, one object per line; a string that is not UTF-8 (a hostname,
// a CPU model) comes out with U+FFFD rather than stopping the program;
// non-finite doubles are null, as JSON has no NaN or Inf.
#pragma once

#include <optional>
#include <ostream>

#include <nlohmann/json.hpp>

namespace emucxl::apps {

using Json = nlohmann::ordered_json;

// One compact JSON text and a newline.
inline void print_json(std::ostream &os, const Json &j)
{
	os << j.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
}

// The value, or null.
template <class T> Json or_null(const std::optional<T> &v)
{
	return v ? Json(*v) : Json(nullptr);
}

} // namespace emucxl::apps
