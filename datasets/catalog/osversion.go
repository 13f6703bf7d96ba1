package catalog

import (
	"regexp"
	"strings"
)

var (
	// Debian security and point-release builds: 1.2-3+deb12u1, ~deb11u2,
	// backports ~bpo12+1.
	debianRelease = regexp.MustCompile(`[+~](?:deb|bpo)(\d+)`)
	// Ubuntu builds: 1.2-3ubuntu0.22.04.1.
	ubuntuRelease = regexp.MustCompile(`ubuntu\d*\.(\d{2}\.\d{2})`)
	// RPM release tags: .el9, .el8_10, .fc40, .sles15, .suse.lp155.
	rpmRelease = regexp.MustCompile(`\.(el|fc|sles|lp)(\d+)`)
)

// OSVersionOf reads the OS release an entry is built for from its version
// string, for the families whose packaging spells it out (Debian, Ubuntu,
// RPM distributions); "" when it does not.
func OSVersionOf(os, version string) string {
	switch strings.ToLower(os) {
	case "debian":
		if m := debianRelease.FindStringSubmatch(version); m != nil {
			return m[1]
		}
	case "ubuntu":
		if m := ubuntuRelease.FindStringSubmatch(version); m != nil {
			return m[1]
		}
	case "rpm", "rhel", "fedora", "sles", "suse", "centos", "rocky", "almalinux":
		if m := rpmRelease.FindStringSubmatch(version); m != nil {
			return m[2]
		}
	}
	return ""
}

// rpmFamily names the OS family of an RPM from its release tag ("rhel"
// for el9, "fedora" for fc40, "sles" for sles15 and openSUSE's lp155), or
// "rpm" when the release does not say.
func rpmFamily(version string) string {
	if m := rpmRelease.FindStringSubmatch(version); m != nil {
		switch m[1] {
		case "el":
			return "rhel"
		case "fc":
			return "fedora"
		case "sles", "lp":
			return "sles"
		}
	}
	return "rpm"
}
