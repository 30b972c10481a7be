/* test_identity_names.h — real-world spellings for test_identity.c: pairs
 * that version 2 must normalise to the same text (one person typed by two
 * services), and pairs it must keep apart (two different names, or
 * spelling differences docs/identity.md says the gateway does not guess
 * about). Invisible and look-alike characters are written as \u escapes. */
#ifndef TELLONCE_TEST_IDENTITY_NAMES_H
#define TELLONCE_TEST_IDENTITY_NAMES_H

static const char *const same_names[][2] = {
	/* Romanian: comma below, the legacy cedilla, none */
	{ "Ștefan", "Stefan" }, { "Ştefan", "Stefan" }, { "Ștefan", "Ştefan" },
	{ "ȘTEFĂNESCU", "Stefanescu" }, { "Țepeș", "Tepes" },
	{ "Ţepeş", "Tepes" }, { "Constanța", "Constanta" },
	{ "Timișoara", "TIMISOARA" }, { "Brașov", "Brasov" }, { "Iași", "Iasi" },
	{ "Mureșan", "Muresan" }, { "Cătălin", "Catalin" }, { "Ionuț", "Ionut" },
	{ "Răzvan", "Razvan" }, { "Mihăiță", "Mihaita" },
	{ "Bălănescu", "Balanescu" }, { "Râmnicu Vâlcea", "Ramnicu Valcea" },
	{ "Dumitrașcu", "DUMITRASCU" }, { "Ţurcanu", "Țurcanu" },
	{ "Pîrvulescu", "Pirvulescu" },
	/* Polish */
	{ "Łukasz", "Lukasz" }, { "ŁUKASZ", "łukasz" }, { "Wałęsa", "Walesa" },
	{ "Łódź", "Lodz" }, { "Żaneta", "Zaneta" }, { "Źdźbło", "Zdzblo" },
	{ "Brzęczyszczykiewicz", "Brzeczyszczykiewicz" },
	{ "Małgorzata", "Malgorzata" }, { "Świątek", "Swiatek" },
	{ "Kraków", "Krakow" }, { "Gdańsk", "Gdansk" }, { "Jędrzej", "Jedrzej" },
	{ "Wrocław", "Wroclaw" }, { "Bolesław", "Boleslaw" },
	{ "Michał", "Michal" }, { "Paweł", "Pawel" },
	{ "Stanisław", "Stanislaw" }, { "Agnieszka Łęcka", "Agnieszka Lecka" },
	{ "Ƶbigniew", "Zbigniew" },
	/* Turkish: dotted and dotless i in both cases */
	{ "İstanbul", "Istanbul" }, { "Işık", "Isik" }, { "IŞIK", "ışık" },
	{ "Gülşen", "Gulsen" }, { "Çağlar", "Caglar" }, { "Şükrü", "Sukru" },
	{ "Öztürk", "Ozturk" }, { "Yıldız", "Yildiz" }, { "YILDIZ", "yıldız" },
	{ "Ağaoğlu", "Agaoglu" }, { "İlkay", "ilkay" }, { "Erdoğan", "Erdogan" },
	{ "Ümit", "Umit" }, { "Nazlı", "NAZLI" }, { "Iğdır", "Igdir" },
	{ "Kılıç", "Kilic" }, { "Atatürk", "ATATÜRK" },
	/* Vietnamese: stacked marks, đ, composed and decomposed */
	{ "Nguyễn Thị Ngọc", "Nguyen Thi Ngoc" }, { "Trần", "Tran" },
	{ "Lê Văn Đức", "Le Van Duc" }, { "Phạm", "Pham" },
	{ "Hoàng", "Hoang" }, { "Huỳnh", "Huynh" }, { "Võ", "Vo" },
	{ "Đặng", "Dang" }, { "Bùi", "Bui" }, { "Đỗ", "Do" },
	{ "Hồ Chí Minh", "Ho Chi Minh" }, { "Dương", "Duong" }, { "Lý", "Ly" },
	{ "Ngô", "Ngo" }, { "Thủy", "Thuy" }, { "Phương", "PHUONG" },
	{ "Hương", "Huong" }, { "Huế", "Hue" }, { "Đà Nẵng", "Da Nang" },
	{ "Quỳnh", "Quynh" }, { "Trương", "Truong" }, { "Lưu", "Luu" },
	{ "Vũ", "Vu" }, { "Tường Vy", "Tuong Vy" }, { "NGUYỄN", "nguyễn" },
	{ "Nguye\u0302\u0303n", "Nguyễn" }, { "Nguy\u1ec5n", "Nguyễn" },
	{ "Ng\u00f4 \u0110\u00ecnh Di\u1ec7m", "Ngo Dinh Diem" },
	{ "Nguye\u0323\u0302n", "Nguye\u0302\u0323n" },
	/* Czech and Slovak */
	{ "Dvořák", "Dvorak" }, { "Černý", "Cerny" }, { "Růžička", "Ruzicka" },
	{ "Kučera", "Kucera" }, { "Novák", "NOVAK" }, { "Procházka", "Prochazka" },
	{ "Jiří", "Jiri" }, { "Zdeněk", "Zdenek" }, { "Šťastný", "Stastny" },
	{ "Hašek", "Hasek" }, { "Ľubomír", "Lubomir" }, { "Ďurica", "Durica" },
	{ "Ťapák", "Tapak" }, { "Ružomberok", "Ruzomberok" },
	{ "Kŕdeľ", "Krdel" },
	/* Hungarian double acute */
	{ "Erdős", "Erdos" }, { "Győr", "Gyor" }, { "Szőke", "Szoke" },
	{ "Bartók Béla", "Bartok Bela" }, { "Kovács", "Kovacs" },
	{ "Tőkés", "Tokes" }, { "Fűzfa", "Fuzfa" }, { "Gyűrű", "Gyuru" },
	{ "Ödön", "Odon" }, { "Lőrinc", "LORINC" }, { "Csősz", "Csosz" },
	/* German sharp s, small and capital */
	{ "Weiß", "Weiss" }, { "Strauß", "Strauss" }, { "STRAUSS", "Strauß" },
	{ "Groß", "Gross" }, { "GROẞ", "Gross" }, { "GROẞ", "groß" },
	{ "Müller", "Muller" }, { "Schröder", "Schroder" },
	{ "Jürgen", "Jurgen" }, { "Meißner", "MEISSNER" }, { "Fuß", "Fuss" },
	{ "Bärbel", "Barbel" },
	/* Nordic and Sami */
	{ "Søren", "Soren" }, { "Ørsted", "Orsted" }, { "Bjørn", "Bjorn" },
	{ "Åsa", "Asa" }, { "Ångström", "Angstrom" }, { "Æbeltoft", "Aebeltoft" },
	{ "Kjærgaard", "Kjaergaard" }, { "Sjöberg", "Sjoberg" },
	{ "Håkon", "Hakon" }, { "Mæhle", "Maehle" }, { "Øyvind", "OYVIND" },
	{ "Mäkinen", "Makinen" }, { "Áillohaš", "Aillohas" },
	{ "Đuoddar", "Duoddar" }, { "Ŋuvvos", "Nuvvos" },
	{ "Ŧeahkká", "Teahkka" }, { "Ǥuolle", "Guolle" },
	/* Icelandic thorn and eth */
	{ "Þórður", "Thordur" }, { "Guðrún", "Gudrun" },
	{ "Björk Guðmundsdóttir", "Bjork Gudmundsdottir" }, { "Þóra", "Thora" },
	{ "Sigurðsson", "Sigurdsson" }, { "Ástþór", "Astthor" },
	{ "Eiður", "Eidur" }, { "Þórisdóttir", "Thorisdottir" },
	{ "Jökull", "Jokull" }, { "ÞORSTEINN", "Þorsteinn" },
	{ "Aðalsteinn", "Adalsteinn" }, { "ÐÓRA", "dóra" },
	/* ligatures: Œ Æ Ĳ, the typographic ones, Croatian digraphs */
	{ "Œuvray", "Oeuvray" }, { "Cœur", "Coeur" }, { "Lætitia", "Laetitia" },
	{ "LÆTITIA", "laetitia" }, { "Æthelstan", "Aethelstan" },
	{ "Cæcilia", "Caecilia" }, { "Bœuf", "BOEUF" }, { "Œdipe", "Oedipe" },
	{ "Ĳsselmonde", "IJsselmonde" }, { "Ĳzerman", "Ijzerman" },
	{ "Of\ufb01cier", "Officier" }, { "Je\ufb00rey", "Jeffrey" },
	{ "\u01c7ubica", "Ljubica" }, { "\u01caego\u0161", "Njegos" },
	{ "\u01c6emal", "Dzemal" }, { "\u01c5emal", "Džemal" },
	{ "ǣsc", "aesc" }, { "Ǿrsted", "Orsted" },
	/* Croatian, Serbian, Bosnian, Slovene */
	{ "Đorđević", "Dordevic" }, { "Šimić", "Simic" },
	{ "Živković", "Zivkovic" }, { "Čačić", "Cacic" }, { "Ćosić", "Cosic" },
	{ "Njegoš", "NJEGOS" }, { "Prešeren", "Preseren" },
	/* Latvian and Lithuanian */
	{ "Ķēniņš", "Kenins" }, { "Jānis Bērziņš", "Janis Berzins" },
	{ "Ļaudona", "Laudona" }, { "Gintarė Šimkūnaitė", "Gintare Simkunaite" },
	{ "Žemaitė", "Zemaite" }, { "Ąžuolas", "Azuolas" }, { "Ēriks", "Eriks" },
	/* Spanish, Portuguese, Catalan, French, Maltese, Albanian, Welsh */
	{ "Muñoz", "Munoz" }, { "Peña", "PENA" }, { "João", "Joao" },
	{ "Conceição", "Conceicao" }, { "Gonçalves", "Goncalves" },
	{ "Íñigo", "Inigo" }, { "Lluís", "Lluis" },
	{ "Paral\u00b7lel", "Paral lel" }, { "Co\u0140lell", "Collell" },
	{ "Françoise", "Francoise" }, { "Hélène", "HELENE" }, { "Noël", "Noel" },
	{ "Anaïs", "Anais" }, { "Maëlle", "Maelle" }, { "Benoît", "Benoit" },
	{ "Ħamrun", "Hamrun" }, { "Ġużè", "Guze" }, { "Żebbuġ", "Zebbug" },
	{ "Çela", "Cela" }, { "Shkëlqim", "Shkelqim" }, { "Gŵyn", "Gwyn" },
	/* West African letters with a hook or open vowels; Wolof ñ */
	{ "Ɓello", "Bello" }, { "Ɗanjuma", "Danjuma" }, { "Ƙano", "Kano" },
	{ "Ƴahaya", "Yahaya" }, { "ɓuuba", "Buuba" }, { "Kɔmla", "Komla" },
	{ "Sɛkɔ", "Seko" }, { "SƐKƆ", "seko" }, { "Ñdiaye", "Ndiaye" },
	{ "Ƒatou", "Fatou" },
	/* Azerbaijani schwa: folded in case only */
	{ "ŞƏHRİYAR", "Şəhriyar" },
	/* Greek and Cyrillic: case (final sigma) and accents */
	{ "Σοφία", "ΣΟΦΙΑ" }, { "Γιώργος", "ΓΙΩΡΓΟΣ" },
	{ "Παπαδόπουλος", "ΠΑΠΑΔΟΠΟΥΛΟΣ" }, { "Ελένη", "ελενη" },
	{ "Νίκος", "ΝΙΚΟΣ" }, { "Пётр", "ПЁТР" }, { "Наталья", "НАТАЛЬЯ" },
	{ "Ёлкин", "Елкин" }, { "Олександр", "ОЛЕКСАНДР" },
	/* apostrophes of every kind */
	{ "O'Brien", "O’Brien" }, { "O'Brien", "Oʼ Brien" },
	{ "O'Brien", "O‘Brien" }, { "O'Brien", "O`Brien" },
	{ "O'Brien", "O´Brien" }, { "O'Brien", "O′Brien" },
	{ "O'Brien", "Oʹ Brien" }, { "O'Brien", "O\uff07Brien" },
	{ "O'Brien", "O Brien" }, { "D’Angelo", "D'Angelo" },
	{ "N’Diaye", "N'Diaye" }, { "L'Hôpital", "L’Hopital" },
	{ "Dell’Orto", "DELL ORTO" }, { "Kaʻahumanu", "Ka'ahumanu" },
	{ "ʿAbd al-Raḥmān", "Abd al Rahman" },
	{ "Saint-Jean-d’Angély", "Saint Jean d Angely" },
	/* hyphens and dashes of every kind */
	{ "Jean\u2010Pierre", "Jean-Pierre" }, { "Jean\u2011Pierre", "Jean-Pierre" },
	{ "Jean\u2012Pierre", "Jean-Pierre" }, { "Jean\u2013Pierre", "Jean-Pierre" },
	{ "Jean\u2014Pierre", "Jean-Pierre" }, { "Jean\u2212Pierre", "Jean-Pierre" },
	{ "Jean\ufe63Pierre", "Jean-Pierre" }, { "Jean\uff0dPierre", "Jean-Pierre" },
	{ "Jean \u2010 Pierre", "Jean Pierre" }, { "Jean\u00adPierre", "Jean Pierre" },
	{ "Anne-Marie", "Anne Marie" }, { "Marie–Claire", "MARIE CLAIRE" },
	{ "Bourg-en-Bresse", "Bourg en Bresse" },
	{ "Saint-Étienne", "SAINT ETIENNE" },
	/* spaces of every kind, doubled, at either end */
	{ "Jean  Pierre", "Jean Pierre" }, { "  Le   Goff ", "Le Goff" },
	{ "Jean\tPierre", "Jean Pierre" }, { "Jean\u00a0Pierre", "Jean Pierre" },
	{ "Jean\u202fPierre", "Jean Pierre" }, { "Jean\u2003Pierre", "Jean Pierre" },
	{ "Jean\u2009Pierre", "Jean Pierre" }, { "Jean\u3000Pierre", "Jean Pierre" },
	{ "Jean\u200bPierre", "Jean Pierre" }, { "Jean\u2028Pierre", "Jean Pierre" },
	{ "Jean\u1680Pierre", "Jean Pierre" }, { "Jean\ufeffPierre", "Jean Pierre" },
	{ "\u00a0Le Goff\u3000", "Le Goff" }, { "Jean - Pierre", "Jean Pierre" },
	/* fullwidth, halfwidth, mathematical and other compatibility forms */
	{ "\uff24\uff35\uff30\uff2f\uff2e\uff34", "Dupont" },
	{ "\uff2a\uff45\uff41\uff4e", "Jean" },
	{ "\uff4a\uff45\uff41\uff4e\uff0d\uff50\uff49\uff45\uff52\uff52\uff45",
	    "Jean-Pierre" },
	{ "\uff12\uff21\uff10\uff10\uff14", "2A004" },
	{ "\U0001d403\U0001d42e\U0001d429\U0001d428\U0001d427\U0001d42d", "Dupont" },
	{ "Louis \u2163", "Louis IV" }, { "\u212aarl", "Karl" },
	{ "\uff76\uff9e", "ガ" }, { "ガ", "カ\u3099" },
	/* the marks other scripts keep, in any order they are typed */
	{ "\u05e9\u05c1\u05b8", "\u05e9\u05b8\u05c1" },
	{ "\u0645\u064e\u0651", "\u0645\u0651\u064e" },
	{ "김", "\u1100\u1175\u11b7" },
};

static const char *const different_names[][2] = {
	/* different names, however close */
	{ "Stefan", "Stefanie" }, { "Ana", "Anna" }, { "Marie", "Maria" },
	{ "Dupont", "Dupond" }, { "Louis XIV", "Louis XV" }, { "Lea", "Leah" },
	{ "Anne-Marie", "Marie-Anne" }, { "Işık", "Işıl" },
	{ "Nguyen Thi Ngoc", "Nguyen Thi Ngan" }, { "Tran", "Tram" },
	{ "Pham", "Phan" }, { "Jiří", "Jirka" }, { "Erdős", "Erdélyi" },
	{ "Łukasz", "Lukas" }, { "Ólafur", "Olaf" }, { "Søren", "Sörenson" },
	{ "Weiß", "Weis" }, { "Cœur", "Coeurs" }, { "Σοφία", "Σοφη" },
	{ "Пётр", "Петра" }, { "Đặng", "Đông" }, { "Ștefan", "Ștefăniță" },
	/* a hyphen or apostrophe keeps the parts of a name apart */
	{ "Jean-Pierre", "Jeanpierre" }, { "Le Goff", "Legoff" },
	{ "O'Brien", "Obrien" },
	/* spelling differences the rules do not guess about */
	{ "Müller", "Mueller" }, { "Đorđević", "Djordjevic" },
	{ "N'Diaye", "Ndiaye" }, { "Þórður", "Tordur" }, { "Əliyev", "Aliyev" },
	{ "Saint-Étienne", "St Etienne" }, { "Sørensen", "Soerensen" },
	/* scripts are not transliterated */
	{ "Σοφία", "Sofia" }, { "Пётр", "Petr" }, { "김", "Kim" },
	/* letters a foreign keyboard does not lose: kana voicing, Indic
	 * vowel signs */
	{ "ガ", "カ" }, { "राम", "रम" }, { "सीता", "सता" },
	/* digits are not letters */
	{ "Louis 14", "Louis XIV" },
};

#endif
