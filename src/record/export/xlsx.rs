//! XLSX through `rust_xlsxwriter` in its constant-memory mode: each row is
//! written to a temporary file as it comes, and the finished workbook is
//! zipped straight into the response. A sheet holds at most 1,048,576 rows
//! (Excel's limit): longer lists continue on a second sheet, and so on.

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::Sender;
use super::table::Cell;
use crate::error::{AppError, AppResult};

/// Rows per sheet, the header row included (Excel's limit).
pub const SHEET_ROWS: u32 = 1_048_576;
/// The longest text a cell holds (Excel's limit); longer text is cut.
const CELL_CHARS: usize = 32_767;

pub struct Book {
    wb: Workbook,
    name: String,
    headers: Vec<String>,
    sheet: usize,
    row: u32,
    bold: Format,
}

fn err(e: XlsxError) -> AppError {
    AppError::Internal(anyhow::anyhow!("xlsx: {e}"))
}

impl Book {
    pub fn new(name: &str, headers: &[String]) -> AppResult<Book> {
        let mut b = Book {
            wb: Workbook::new(),
            name: name.to_string(),
            headers: headers.to_vec(),
            sheet: 0,
            row: 0,
            bold: Format::new().set_bold(),
        };
        b.add_sheet(0)?;
        Ok(b)
    }

    fn add_sheet(&mut self, index: usize) -> AppResult<()> {
        let name = if index == 0 {
            self.name.clone()
        } else {
            format!("{} {}", self.name, index + 1)
        };
        let ws = self.wb.add_worksheet_with_constant_memory().map_err(err)?;
        ws.set_name(name).map_err(err)?;
        for (col, h) in self.headers.iter().enumerate() {
            ws.write_string_with_format(0, col as u16, h, &self.bold)
                .map_err(err)?;
        }
        ws.set_freeze_panes(1, 0).map_err(err)?;
        self.sheet = index;
        self.row = 1;
        Ok(())
    }

    pub fn row(&mut self, cells: &[Cell]) -> AppResult<()> {
        if self.row >= SHEET_ROWS {
            self.add_sheet(self.sheet + 1)?;
        }
        let row = self.row;
        let ws = self.wb.worksheet_from_index(self.sheet).map_err(err)?;
        for (col, c) in cells.iter().enumerate() {
            let col = col as u16;
            match c {
                Cell::Empty => {}
                Cell::Bool(b) => {
                    ws.write_boolean(row, col, *b).map_err(err)?;
                }
                Cell::Number(n) => match n.parse::<f64>() {
                    Ok(f) => {
                        ws.write_number(row, col, f).map_err(err)?;
                    }
                    Err(_) => {
                        ws.write_string(row, col, n.as_str()).map_err(err)?;
                    }
                },
                Cell::Text(_) => {
                    let text = c.safe_text();
                    let text: String = if text.chars().count() > CELL_CHARS {
                        text.chars().take(CELL_CHARS).collect()
                    } else {
                        text.into_owned()
                    };
                    ws.write_string(row, col, text).map_err(err)?;
                }
            }
        }
        self.row += 1;
        Ok(())
    }

    /// Zips the workbook into the response.
    pub fn finish(mut self, out: &mut Sender) -> AppResult<()> {
        self.wb.save_to_writer(&mut *out).map_err(err)
    }
}
