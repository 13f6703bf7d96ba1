package datasets

import (
	"strconv"
	"strings"
)

// protoNames are the IP protocol names nfdump 1.7 prints, indexed by
// protocol number (output_util.c); numbers without a name, and numbers
// from 138 up, are printed as decimal numbers. They are fingerflow's one
// table of protocol names: what info prints, what --proto and the flow
// readers accept.
var protoNames = [...]string{
	"0", "ICMP", "IGMP", "GGP", "IPIP", "ST", "TCP", "CBT", "EGP", "IGP",
	"BBN", "NVPII", "PUP", "ARGUS", "ENCOM", "XNET", "CHAOS", "UDP", "MUX", "DCN",
	"HMP", "PRM", "XNS", "Trnk1", "Trnk2", "Leaf1", "Leaf2", "RDP", "IRTP", "ISO-4",
	"NETBK", "MFESP", "MEINP", "DCCP", "3PC", "IDPR", "XTP", "DDP", "IDPR", "TP++",
	"IL", "IPv6", "SDRP", "Rte6", "Frag6", "IDRP", "RSVP", "GRE", "MHRP", "BNA",
	"ESP", "AH", "INLSP", "SWIPE", "NARP", "MOBIL", "TLSP", "SKIP", "ICMP6", "NOHE6",
	"OPTS6", "HOST", "CFTP", "NET", "SATNT", "KLAN", "RVD", "IPPC", "FS", "SATM",
	"VISA", "IPCV", "CPNX", "CPHB", "WSN", "PVP", "BSATM", "SUNND", "WBMON", "WBEXP",
	"ISOIP", "VMTP", "SVMTP", "VINES", "TTP", "NSIGP", "DGP", "TCF", "EIGRP", "OSPF",
	"S-RPC", "LARP", "MTP", "AX.25", "OS", "MICP", "SCCSP", "ETHIP", "ENCAP", "99",
	"GMTP", "IFMP", "PNNI", "PIM", "ARIS", "SCPS", "QNX", "A/N", "IPcmp", "SNP",
	"CpqPP", "IPXIP", "VRRP", "PGM", "0hop", "L2TP", "DDX", "IATP", "STP", "SRP",
	"UTI", "SMP", "SM", "PTP", "ISIS4", "FIRE", "CRTP", "CRUDP", "128", "IPLT",
	"SPS", "PIPE", "SCTP", "FC", "134", "MHEAD", "UDP-L", "MPLS",
}

// protoAliases are other names for protocols that tools print (Argus's
// ra, /etc/protocols) or users type.
var protoAliases = map[string]uint8{
	"ipnip": 4, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59, "ospfigp": 89, "udplite": 136,
}

// protoByName maps every name of protoNames, as printed and in lower case,
// and every alias to its number. Where nfdump uses one name twice ("IDPR"
// for 35 and 38) the first wins, as in nfdump's own filter parser.
var protoByName = func() map[string]uint8 {
	m := make(map[string]uint8, 2*len(protoNames)+len(protoAliases))
	for i := len(protoNames) - 1; i >= 0; i-- {
		m[protoNames[i]] = uint8(i)
		m[strings.ToLower(protoNames[i])] = uint8(i)
	}
	for name, n := range protoAliases {
		m[name] = n
	}
	return m
}()

// ProtoName is the name nfdump gives IP protocol p ("TCP", "ICMP6"), or
// its number.
func ProtoName(p uint8) string {
	if int(p) < len(protoNames) {
		return protoNames[p]
	}
	return strconv.Itoa(int(p))
}

// ParseProto reads an IP protocol given by name (nfdump's, Argus's, any
// case) or by number 0-255.
func ParseProto(s string) (uint8, bool) {
	if n, ok := protoByName[s]; ok {
		return n, true
	}
	if n, ok := protoByName[strings.ToLower(s)]; ok {
		return n, true
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, false
	}
	return uint8(n), true
}
