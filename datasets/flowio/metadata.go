package flowio

import "context"

// SetMetadata sets a key/value pair in the Parquet file's footer metadata
// (the last value set for a key wins). It takes effect when called before
// Close, so a writer can record what it only knows at the end, such as
// counters over the file's flows.
func (p *ParquetWriter) SetMetadata(key, value string) {
	p.w.SetKeyValueMetadata(key, value)
}

// ParquetMetadata returns the key/value metadata of the footer of the
// fingerflow Parquet file at path.
func ParquetMetadata(ctx context.Context, path string) (map[string]string, error) {
	f, pf, err := openParquet(ctx, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	md := map[string]string{}
	for _, kv := range pf.Metadata().KeyValueMetadata {
		md[kv.Key] = kv.Value
	}
	return md, nil
}
