package main

import (
	"log/slog"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/argus"
	"github.com/fingerflow/fingerflow/datasets/flowio"
	"github.com/fingerflow/fingerflow/datasets/netflow"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
	"github.com/fingerflow/fingerflow/datasets/nfcsv"
	"github.com/fingerflow/fingerflow/datasets/pcapflow"
)

// newRegistry lists every input format fingerflow reads, in sniffing order:
// more specific formats first (NetFlow export packets inside a pcap before
// plain packet captures, binary formats before text). Readers that warn
// about data they skip warn on logger.
func newRegistry(logger *slog.Logger) *datasets.Registry {
	return datasets.NewRegistry(
		&nfcapd.Reader{},
		&argus.Reader{},
		&nfcsv.Reader{},
		&argus.CSVReader{},
		flowio.ParquetReader{}, flowio.CSVReader{},
		&netflow.Reader{Logger: logger}, // NetFlow/IPFIX export packets in pcap/pcapng
		pcapflow.New(pcapflow.Config{}), // any pcap/pcapng: the NetFlow-in-pcap reader must come before it
	)
}
