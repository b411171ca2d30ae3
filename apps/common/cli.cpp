// SPDX-License-Identifier: Apache-2.0
// cli.cpp - see cli.hpp.
#include "cli.hpp"

#include <iostream>
#include <memory>

namespace emucxl::apps {

std::string Help::make_help(const CLI::App *app, std::string name, CLI::AppFormatMode mode) const
{
	if (mode == CLI::AppFormatMode::Sub)
		return make_expanded(app);
	(void)name; // the synopsis names the command
	std::string out = "usage: " + synopsis_ + "\n";
	if (!app->get_description().empty())
		out += "\n" + app->get_description() + "\n";
	out += make_positionals(app);
	out += make_groups(app, mode);
	out += make_subcommands(app, mode);
	if (!app->get_footer().empty())
		out += "\n" + app->get_footer() + "\n";
	return out;
}

void use_conventions(CLI::App &app, std::string synopsis)
{
	app.formatter(std::make_shared<Help>(std::move(synopsis)));
	app.get_formatter()->column_width(26);
	app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

std::optional<int> parse(CLI::App &app, int argc, const char *const *argv)
{
	try {
		app.parse(argc, argv);
		return std::nullopt;
	} catch (const CLI::CallForHelp &) {
		std::cout << app.help(); // the selected subcommand's, if any
		return exit_ok;
	} catch (const CLI::CallForAllHelp &) {
		std::cout << app.help("", CLI::AppFormatMode::All);
		return exit_ok;
	} catch (const CLI::ParseError &e) {
		// Name the command the error is in: "emucxlctl run: ...".
		const CLI::App *at = &app;
		std::string name = app.get_name();
		while (!at->get_subcommands().empty()) {
			at = at->get_subcommands().front();
			name += " " + at->get_name();
		}
		std::cerr << name << ": " << e.what() << "\n";
		if (const auto help = std::dynamic_pointer_cast<Help>(at->get_formatter()))
			std::cerr << "usage: " << help->synopsis() << "\n";
		std::cerr << "(" << name << " --help says more)\n";
		return exit_usage;
	}
}

} // namespace emucxl::apps
