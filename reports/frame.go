package reports

import (
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"unicode"

	"github.com/go-gota/gota/dataframe"
	"github.com/go-gota/gota/series"
	"github.com/parquet-go/parquet-go"
)

// WriteFrameParquet writes a gota DataFrame as a zstd-compressed Parquet
// file with the frame's columns in order: strings as STRING, ints as
// INT64, floats as DOUBLE (NaN as null), bools as BOOLEAN. gota has no
// Parquet writer; the schema is built from the frame's column types.
func WriteFrameParquet(w io.Writer, df dataframe.DataFrame) error {
	if df.Err != nil {
		return df.Err
	}
	names := df.Names()
	types := df.Types()
	fields := make([]reflect.StructField, len(names))
	for i, n := range names {
		var t reflect.Type
		switch types[i] {
		case series.String:
			t = reflect.TypeFor[string]()
		case series.Int:
			t = reflect.TypeFor[int64]()
		case series.Float:
			t = reflect.TypeFor[*float64]() // optional: NaN is null
		case series.Bool:
			t = reflect.TypeFor[bool]()
		default:
			return fmt.Errorf("column %s: type %s has no Parquet form", n, types[i])
		}
		fields[i] = reflect.StructField{
			Name: fmt.Sprintf("F%d", i), Type: t,
			Tag: reflect.StructTag(fmt.Sprintf(`parquet:"%s"`, parquetName(n))),
		}
		if types[i] == series.Float {
			fields[i].Tag = reflect.StructTag(fmt.Sprintf(`parquet:"%s,optional"`, parquetName(n)))
		}
	}
	rowType := reflect.StructOf(fields)
	pw := parquet.NewWriter(w, parquet.SchemaOf(reflect.New(rowType).Interface()), parquet.Compression(&parquet.Zstd))
	cols := make([]series.Series, len(names))
	for i, n := range names {
		cols[i] = df.Col(n)
	}
	row := reflect.New(rowType)
	for r := range df.Nrow() {
		v := row.Elem()
		for i, c := range cols {
			e := c.Elem(r)
			f := v.Field(i)
			switch types[i] {
			case series.String:
				f.SetString(e.String())
			case series.Int:
				n, err := e.Int()
				if err != nil {
					return fmt.Errorf("column %s row %d: %w", names[i], r, err)
				}
				f.SetInt(int64(n))
			case series.Float:
				x := e.Float()
				if math.IsNaN(x) {
					f.SetZero()
				} else {
					f.Set(reflect.ValueOf(&x))
				}
			case series.Bool:
				b, err := e.Bool()
				if err != nil {
					return fmt.Errorf("column %s row %d: %w", names[i], r, err)
				}
				f.SetBool(b)
			}
		}
		if err := pw.Write(row.Interface()); err != nil {
			return err
		}
	}
	return pw.Close()
}

// parquetName keeps a column name usable in a struct tag.
func parquetName(n string) string {
	return strings.Map(func(r rune) rune {
		if r == ',' || r == '"' || r == '`' || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, n)
}
