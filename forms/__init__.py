"""WTForms classes: fields and field validation only. HTML views and the JSON API share them."""
