// SPDX-License-Identifier: Apache-2.0
// json_writer.hpp - a tiny streaming JSON writer for the apps' --json output.
//
// Each app prints one JSON object; a JSON library for that would add a build
// dependency for ~100 lines. The writer tracks nesting so commas are never
// placed by hand, escapes every string, and prints non-finite doubles as null
// (JSON has no NaN or Inf).
#pragma once

#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdio>
#include <optional>
#include <ostream>
#include <string_view>
#include <vector>

namespace emucxl::apps {

class JsonWriter {
public:
	explicit JsonWriter(std::ostream &out) : out_(out) {}

	JsonWriter &begin_object() { return open('{'); }
	JsonWriter &end_object() { return close('}'); }
	JsonWriter &begin_array() { return open('['); }
	JsonWriter &end_array() { return close(']'); }

	// An object member's name; the next call writes its value.
	JsonWriter &key(std::string_view name)
	{
		separate();
		write_string(name);
		out_ << ':';
		after_key_ = true;
		return *this;
	}

	JsonWriter &value(std::string_view s)
	{
		separate();
		write_string(s);
		return *this;
	}
	JsonWriter &value(const char *s) { return s ? value(std::string_view(s)) : null(); }
	JsonWriter &value(bool b)
	{
		separate();
		out_ << (b ? "true" : "false");
		return *this;
	}
	template <std::integral I>
		requires(!std::same_as<I, bool>)
	JsonWriter &value(I v)
	{
		separate();
		char buf[24];
		auto res = std::to_chars(buf, buf + sizeof buf, v);
		out_.write(buf, res.ptr - buf);
		return *this;
	}
	JsonWriter &value(double d)
	{
		if (!std::isfinite(d))
			return null();
		separate();
		char buf[32];
		// Shortest round-trip form: exact, and independent of the locale.
		auto res = std::to_chars(buf, buf + sizeof buf, d);
		out_.write(buf, res.ptr - buf);
		return *this;
	}
	template <class T> JsonWriter &value(const std::optional<T> &v)
	{
		return v ? value(*v) : null();
	}
	JsonWriter &null()
	{
		separate();
		out_ << "null";
		return *this;
	}

	// key + value in one call, for the common flat case.
	template <class T> JsonWriter &field(std::string_view name, const T &v)
	{
		return key(name).value(v);
	}

private:
	JsonWriter &open(char c)
	{
		separate();
		out_ << c;
		first_.push_back(true);
		return *this;
	}
	JsonWriter &close(char c)
	{
		first_.pop_back();
		out_ << c;
		return *this;
	}
	// The comma between siblings; a value right after its key needs none.
	void separate()
	{
		if (after_key_) {
			after_key_ = false;
			return;
		}
		if (!first_.empty()) {
			if (!first_.back())
				out_ << ',';
			first_.back() = false;
		}
	}
	void write_string(std::string_view s)
	{
		out_ << '"';
		for (unsigned char c : s) {
			switch (c) {
			case '"': out_ << "\\\""; break;
			case '\\': out_ << "\\\\"; break;
			case '\n': out_ << "\\n"; break;
			case '\r': out_ << "\\r"; break;
			case '\t': out_ << "\\t"; break;
			default:
				if (c < 0x20) {
					char buf[8];
					std::snprintf(buf, sizeof buf, "\\u%04x", c);
					out_ << buf;
				} else {
					out_ << static_cast<char>(c);
				}
			}
		}
		out_ << '"';
	}

	std::ostream &out_;
	std::vector<bool> first_; // per open container: true until a member is written
	bool after_key_ = false;
};

} // namespace emucxl::apps
