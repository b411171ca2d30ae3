// SPDX-License-Identifier: Apache-2.0
// json_reader.hpp - a minimal strict JSON parser, for tests that check the
// apps' --json output. It accepts exactly RFC 8259 JSON (one value, optional
// surrounding whitespace) and reports the first error; it is not fast and
// does not need to be.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace emucxl::apps::json {

struct Value;
using Array = std::vector<Value>;
using Object = std::vector<std::pair<std::string, Value>>; // keeps member order

struct Value {
	std::variant<std::nullptr_t, bool, double, std::string, Array, Object> v;

	bool is_null() const { return std::holds_alternative<std::nullptr_t>(v); }
	bool is_number() const { return std::holds_alternative<double>(v); }
	bool is_string() const { return std::holds_alternative<std::string>(v); }
	bool is_bool() const { return std::holds_alternative<bool>(v); }
	bool is_array() const { return std::holds_alternative<Array>(v); }
	bool is_object() const { return std::holds_alternative<Object>(v); }
	double number() const { return std::get<double>(v); }
	bool boolean() const { return std::get<bool>(v); }
	const std::string &string() const { return std::get<std::string>(v); }
	const Array &array() const { return std::get<Array>(v); }
	const Object &object() const { return std::get<Object>(v); }

	// Member lookup; nullptr when this is not an object or has no such member.
	const Value *find(std::string_view name) const
	{
		if (!is_object())
			return nullptr;
		for (const auto &[k, val] : object())
			if (k == name)
				return &val;
		return nullptr;
	}
	// Member that must exist (throws std::out_of_range otherwise).
	const Value &at(std::string_view name) const
	{
		if (const Value *m = find(name))
			return *m;
		throw std::out_of_range("no member \"" + std::string(name) + "\"");
	}
};

class ParseError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

namespace detail {

class Parser {
public:
	explicit Parser(std::string_view text) : s_(text) {}

	Value document()
	{
		Value v = value();
		ws();
		if (i_ != s_.size())
			fail("trailing characters");
		return v;
	}

private:
	[[noreturn]] void fail(const char *what) const
	{
		throw ParseError(std::string(what) + " at offset " + std::to_string(i_));
	}
	void ws()
	{
		while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
			++i_;
	}
	char peek()
	{
		ws();
		if (i_ >= s_.size())
			fail("unexpected end");
		return s_[i_];
	}
	void expect(char c)
	{
		if (peek() != c)
			fail("unexpected character");
		++i_;
	}
	void literal(std::string_view word)
	{
		if (s_.substr(i_, word.size()) != word)
			fail("bad literal");
		i_ += word.size();
	}
	Value value()
	{
		switch (peek()) {
		case '{': return object();
		case '[': return array();
		case '"': return Value{string()};
		case 't': literal("true"); return Value{true};
		case 'f': literal("false"); return Value{false};
		case 'n': literal("null"); return Value{nullptr};
		default: return Value{number()};
		}
	}
	Value object()
	{
		expect('{');
		Object members;
		if (peek() == '}') {
			++i_;
			return Value{std::move(members)};
		}
		for (;;) {
			if (peek() != '"')
				fail("expected member name");
			std::string name = string();
			expect(':');
			members.emplace_back(std::move(name), value());
			char c = peek();
			++i_;
			if (c == '}')
				return Value{std::move(members)};
			if (c != ',')
				fail("expected , or }");
		}
	}
	Value array()
	{
		expect('[');
		Array items;
		if (peek() == ']') {
			++i_;
			return Value{std::move(items)};
		}
		for (;;) {
			items.push_back(value());
			char c = peek();
			++i_;
			if (c == ']')
				return Value{std::move(items)};
			if (c != ',')
				fail("expected , or ]");
		}
	}
	std::string string()
	{
		expect('"');
		std::string out;
		while (i_ < s_.size()) {
			char c = s_[i_++];
			if (c == '"')
				return out;
			if (static_cast<unsigned char>(c) < 0x20)
				fail("control character in string");
			if (c != '\\') {
				out += c;
				continue;
			}
			if (i_ >= s_.size())
				break;
			switch (char e = s_[i_++]) {
			case '"': case '\\': case '/': out += e; break;
			case 'b': out += '\b'; break;
			case 'f': out += '\f'; break;
			case 'n': out += '\n'; break;
			case 'r': out += '\r'; break;
			case 't': out += '\t'; break;
			case 'u': {
				if (i_ + 4 > s_.size())
					fail("short \\u escape");
				unsigned cp = 0;
				auto res = std::from_chars(s_.data() + i_, s_.data() + i_ + 4, cp, 16);
				if (res.ptr != s_.data() + i_ + 4)
					fail("bad \\u escape");
				i_ += 4;
				// The writers only escape control characters; keep this ASCII-only.
				out += cp < 0x80 ? static_cast<char>(cp) : '?';
				break;
			}
			default: fail("bad escape");
			}
		}
		fail("unterminated string");
	}
	double number()
	{
		std::size_t start = i_;
		if (i_ < s_.size() && s_[i_] == '-')
			++i_;
		if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9')
			fail("expected a value");
		while (i_ < s_.size() && std::string_view("0123456789.eE+-").find(s_[i_]) != std::string_view::npos)
			++i_;
		double d = 0;
		auto res = std::from_chars(s_.data() + start, s_.data() + i_, d);
		if (res.ec != std::errc() || res.ptr != s_.data() + i_)
			fail("bad number");
		return d;
	}

	std::string_view s_;
	std::size_t i_ = 0;
};

} // namespace detail

// Parses a complete JSON text; throws ParseError on anything malformed.
inline Value parse(std::string_view text) { return detail::Parser(text).document(); }

} // namespace emucxl::apps::json
