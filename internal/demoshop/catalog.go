package demoshop

// Product is one item of the sample catalog.
type Product struct {
	ID          int     `json:"id"`
	Name        string  `json:"name"`
	Category    string  `json:"category"`
	Price       float64 `json:"price"`
	Description string  `json:"description"`
	Color       string  `json:"-"` // of the generated picture
	Stock       int     `json:"stock"`
}

// Category groups products.
type Category struct {
	Slug, Name, Intro string
}

var categories = []Category{
	{"brood", "Brood", "Elke ochtend vers gebakken in onze oven aan de Kerkstraat."},
	{"gebak", "Gebak", "Taarten en gebak voor elk feest, ook op bestelling."},
	{"koek", "Koek & koekjes", "Voor bij de koffie, of gewoon zomaar."},
}

var products = []Product{
	{1, "Desem waldkorn", "brood", 4.25, "Een stevig desembrood met zonnebloempitten, lijnzaad en sesam. 36 uur gerezen voor een volle smaak en een knapperige korst.", "#a0522d", 14},
	{2, "Wit casino", "brood", 2.95, "Het klassieke witte vloerbrood, luchtig van binnen, goudbruin van buiten.", "#deb887", 30},
	{3, "Volkoren tarwe", "brood", 3.40, "Honderd procent volkoren tarwe uit de Flevopolder, met een snufje zeezout.", "#8b5a2b", 22},
	{4, "Appeltaart", "gebak", 18.50, "Grootmoeders recept: Elstar-appels, kaneel en rozijnen onder een knapperig rooster.", "#cd853f", 6},
	{5, "Slagroomtaart", "gebak", 24.00, "Luchtig biscuit met verse aardbeien en slagroom. Voor acht tot tien personen.", "#f5deb3", 3},
	{6, "Tompouce", "gebak", 2.75, "Bladerdeeg, banketbakkersroom en roze glazuur. Ook in oranje rond Koningsdag.", "#ffb6c1", 40},
	{7, "Stroopwafels (10 st.)", "koek", 5.95, "Dunne wafels met warme karamelstroop, ambachtelijk gebakken in Gouda-stijl.", "#d2691e", 50},
	{8, "Speculaas", "koek", 4.50, "Gekruide koek met amandelschaafsel, volgens het recept van 1921.", "#b8860b", 25},
	{9, "Gevulde koek", "koek", 1.95, "Zandtaartdeeg rond een kern van amandelspijs, met een halve amandel erop.", "#daa520", 35},
	{10, "Krentenbol", "brood", 0.85, "Zacht bolletje vol krenten en rozijnen. Lekker met roomboter.", "#bc8f8f", 60},
}

func productByID(id int) (Product, bool) {
	for _, p := range products {
		if p.ID == id {
			return p, true
		}
	}
	return Product{}, false
}

func categoryBySlug(slug string) (Category, bool) {
	for _, c := range categories {
		if c.Slug == slug {
			return c, true
		}
	}
	return Category{}, false
}

func productsIn(slug string) []Product {
	var out []Product
	for _, p := range products {
		if p.Category == slug {
			out = append(out, p)
		}
	}
	return out
}
