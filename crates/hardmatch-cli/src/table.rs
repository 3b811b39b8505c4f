//! Plain-text tables for terminals: aligned columns, no box drawing, readable when piped.

/// Renders rows under a header, each column as wide as its widest cell. The last column
/// is not padded, so long evidence text does not drag trailing spaces along.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = Columns::measure(header, rows);
    let mut text = String::new();
    columns.row(&mut text, header);
    for row in rows {
        columns.row(&mut text, row);
    }
    text
}

/// A table's column widths, measured over every row first so that the rows can then be
/// written a block at a time: a table of a million rows is never held as one text.
pub struct Columns {
    widths: Vec<usize>,
}

impl Columns {
    /// Widths of the header's columns over `rows`; a row may leave out trailing columns
    /// (the last one is never padded, so its width does not matter).
    pub fn measure<Row: AsRef<[Cell]>, Cell: AsRef<str>>(
        header: &[&str],
        rows: impl IntoIterator<Item = Row>,
    ) -> Self {
        let mut widths: Vec<usize> = header.iter().map(|cell| cell.chars().count()).collect();
        for row in rows {
            for (width, cell) in widths.iter_mut().zip(row.as_ref()) {
                *width = (*width).max(cell.as_ref().chars().count());
            }
        }
        Self { widths }
    }

    /// The widths of two measures of the same columns over different rows, as one measure
    /// over all of them.
    pub fn widest_of(mut self, other: &Self) -> Self {
        for (width, other) in self.widths.iter_mut().zip(&other.widths) {
            *width = (*width).max(*other);
        }
        self
    }

    /// Appends one row: its leading cells padded, then its last cell as `last` writes it,
    /// so a long last cell is never made into a string of its own.
    pub fn row_with_last<Cell: AsRef<str>>(
        &self,
        text: &mut String,
        leading: &[Cell],
        last: impl FnOnce(&mut String),
    ) {
        for (column, cell) in leading.iter().enumerate() {
            let cell = cell.as_ref();
            text.push_str("  ");
            text.push_str(cell);
            let padding = self
                .widths
                .get(column)
                .copied()
                .unwrap_or_default()
                .saturating_sub(cell.chars().count());
            text.extend(std::iter::repeat_n(' ', padding));
        }
        text.push_str("  ");
        last(text);
        text.push('\n');
    }

    /// Appends one row of cells.
    pub fn row<Cell: AsRef<str>>(&self, text: &mut String, cells: &[Cell]) {
        match cells.split_last() {
            Some((last, leading)) => {
                self.row_with_last(text, leading, |text| text.push_str(last.as_ref()));
            }
            None => text.push('\n'),
        }
    }
}

/// One CSV field, quoted when it needs to be (RFC 4180).
pub fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_on_the_widest_cell() {
        let text = render(
            &["UPN", "STATUS"],
            &[
                vec!["zoë@contoso.com".into(), "linked".into()],
                vec!["a@b".into(), "will_create".into()],
            ],
        );
        assert_eq!(
            text,
            "  UPN              STATUS\n  zoë@contoso.com  linked\n  a@b              will_create\n"
        );
    }

    #[test]
    fn measures_of_parts_widen_to_the_measure_of_the_whole() {
        let rows = [vec!["a", "bbbb"], vec!["ccc", "d"], vec!["éé", "e"]];
        let whole = Columns::measure(&["X", "Y"], &rows);
        let parts = Columns::measure(&["X", "Y"], &rows[..1])
            .widest_of(&Columns::measure(&["X", "Y"], &rows[1..]));
        assert_eq!(parts.widths, whole.widths);
        assert_eq!(whole.widths, [3, 4]);
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("CN=a,OU=b"), "\"CN=a,OU=b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
